"""Look: capture the screens of some tasks and classify them, as ``list`` does.

:func:`look` is one call of :func:`tmux_codex.tasks.refresh.refresh` for all
the tasks due (one ``list-panes`` and one batched ``capture-pane`` per tmux
server, classified against the pattern table of each task's Codex version):
it writes each verdict that changes a task to the store and gives the tasks
as re-read, in a :class:`Looked`. The monitor passes what the read stage
knows (the last state Codex announced, which stalled tasks progressed) and
:func:`hold` (a prompt of no known kind must still be up a moment later).
:func:`landed` then plans the next look of each task: again while the store
does not agree with Codex's announcement (SETTLE_RETRY), or until tmux shows
the pane of a task whose shim ended dead (EXIT_RETRY).

Everything but :func:`look` is pure and takes the clock as an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tmux_codex.codex.classify import Verdict
from tmux_codex.core.models import Task
from tmux_codex.monitor.track import Track, agrees, schedule_look
from tmux_codex.tasks.context import Context
from tmux_codex.tasks.refresh import refresh
from tmux_codex.tasks.vouch import fingerprint
from tmux_codex.tmux.server import PaneInfo

#: At most one look (capture) per task per this many seconds.
DEBOUNCE = 0.025
#: A task whose screen does not yet show what Codex announced is looked at
#: again after this many seconds (times the tries so far), up to SETTLE_TRIES.
SETTLE_RETRY = 0.5
SETTLE_TRIES = 4
#: A prompt of no known kind must still be up this long after it was first seen.
UNKNOWN_CONFIRM = 0.3
#: A task whose shim ended is looked at again, this many seconds times the tries
#: so far, until tmux shows its pane dead (it learns of the exit a moment later).
EXIT_RETRY = 0.2
EXIT_TRIES = 10


@dataclass
class Looked:
    """What one look did."""

    captured: int  # tasks captured (the monitor counts them: ``Monitor.looks``)
    tasks: list[Task]  # as re-read after their verdicts were written


def now_or_later(track: Track, clock: float, woken: bool) -> bool:
    """Whether to look at a task that wants a look now; else its look is put off.

    A woken task (a hook, notify, the shim, an action) is looked at at once;
    otherwise at most once per :data:`DEBOUNCE`: a look too soon after the last
    is due at the end of it, so a burst of writes ends with one last look.
    """
    if clock - track.last_look >= DEBOUNCE or woken:
        return True
    schedule_look(track, track.last_look + DEBOUNCE)
    return False


def hold(track: Track, task: Task, verdict: Verdict, clock: float) -> bool:
    """Whether to wait before writing this verdict: a prompt of no known kind.

    Codex says "blocked" and sets the "Action Required" title before it
    draws the prompt, and tmux may show half a frame: a look then sees a
    prompt it cannot name. Only one still there :data:`UNKNOWN_CONFIRM`
    later is ``waiting``/``unknown``.
    """
    if verdict.state != "waiting" or verdict.reason != "unknown":
        track.unknown_since = None
        return False
    if task.state == "waiting" and task.reason == "unknown":
        return False
    if track.unknown_since is None:
        track.unknown_since = clock
    if clock - track.unknown_since >= UNKNOWN_CONFIRM:
        return False
    track.look_due = track.unknown_since + UNKNOWN_CONFIRM
    return True


def judged(verdict: Verdict) -> int:
    """The fingerprint of a verdict, as readers compare it with the stored one."""
    return fingerprint(verdict.state, verdict.reason, verdict.prompt_text)


def landed(track: Track, task: Task, clock: float) -> None:
    """A look's verdict (``task`` as re-read) lands in the track: when to look again."""
    track.state = task.state
    if track.shim_gone and not task.final and track.exit_tries < EXIT_TRIES:
        track.exit_tries += 1
        schedule_look(track, clock + EXIT_RETRY * track.exit_tries)
    settled = agrees(track.announced, task.state)
    if settled or task.state == "starting":
        track.unsettled = not settled
        if settled:
            track.settle_tries = 0
        return
    track.unsettled = True
    track.settle_tries += 1
    if track.settle_tries <= SETTLE_TRIES:
        schedule_look(track, clock + SETTLE_RETRY * track.settle_tries)


def look(
    ctx: Context,
    tracks: dict[int, Track],
    ids: set[int],
    progressed: set[int] | frozenset[int],
    clock: Callable[[], float],
) -> Looked:
    """Capture and classify these tasks now (one tmux call per server)."""
    started = clock()
    for task_id in ids:
        if task_id in tracks:
            tracks[task_id].last_look = started
            tracks[task_id].look_due = None
    tasks = [t for t in (ctx.store.get(i) for i in sorted(ids)) if t and not t.final]
    tasks = [t for t in tasks if t.id in tracks]
    if not tasks:
        return Looked(0, [])
    panes: dict[int, PaneInfo] = {}
    verdicts: dict[int, Verdict] = {}
    try:
        fresh = refresh(
            ctx,
            tasks,
            panes_seen=panes,
            verdicts=verdicts,
            announced={t.id: tracks[t.id].announced for t in tasks},
            progressed=frozenset(progressed),
            by="monitor",
            hold=lambda task, verdict: hold(tracks[task.id], task, verdict, clock()),
            wake_monitor=False,
        )
    except BaseException:
        for task in tasks:  # not looked at after all: again next turn, and no word till then
            track = tracks[task.id]
            track.look_due, track.judged, track.pipe = started, None, None
        raise
    for task in fresh:
        track = tracks[task.id]
        seen = panes.get(task.id)
        track.pipe = seen is not None and seen.pipe and not seen.dead
        verdict = verdicts.get(task.id)
        track.judged = None if verdict is None else judged(verdict)
        landed(track, task, started)
    return Looked(len(tasks), fresh)
