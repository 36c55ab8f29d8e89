"""The monitor: one daemon per state directory that keeps every task's state current.

It reacts to events and does not poll panes on a tick:

- **new bytes in a task's log** (watchdog on ``logs/``: one watch for the
  directory): the bytes are read from where the monitor last stopped. Codex's
  state escapes in them (``ESC]7501;state=…``) say when its turn changes; real
  output (not the live timer of the "Working" line) resets the stall clock. A
  task whose announced state the store does not agree with yet, or one still
  ``starting``, is looked at: one ``capture-pane`` (batched with
  ``list-panes``), classified. At most one look per task per
  :data:`DEBOUNCE`; a burst ends with a last look.
- **a wake** (watchdog on ``wake/``): the shim recorded Codex's exit, Codex's
  notify hook recorded a finished turn, the pane's log was closed because its
  window died: the task is looked at at once.
- **timers**, only for time-based states: ``stalled`` after ``stall_after`` of
  no real output while working, one Enter after ``poke_after``.

Every state change in the store (whoever wrote it) goes to the notification
sinks. On start it reconciles, as a restarted daemon must: tasks whose window
is gone become ``lost``, live ones are re-classified from a fresh capture,
and log files are only ever read.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from tmux_codex.codex.classify import Verdict
from tmux_codex.codex.output import (
    LOOP_MAX_BLOCK,
    LOOP_REPEATS,
    is_progress,
    loop_key,
    output_lines,
    repeated_block,
    visible_text,
)
from tmux_codex.codex.patterns import Patterns, patterns_for
from tmux_codex.codex.sessions import exec_session_id, find_session
from tmux_codex.core.errors import TmuxCodexError
from tmux_codex.core.lock import Lock
from tmux_codex.core.models import FINAL_STATES, Task, now
from tmux_codex.core.paths import ensure_dir, logs_dir, notified_path, wake_dir
from tmux_codex.monitor.progress import Seen
from tmux_codex.monitor.watch import Change, DirWatch, ProcessWatch
from tmux_codex.policy.rules import on_prompt, resume_delay, should_kill
from tmux_codex.tasks.context import Context
from tmux_codex.tasks.refresh import codex_state as _codex_state
from tmux_codex.tasks.refresh import refresh
from tmux_codex.tasks.refresh import shim_alive as _shim_alive

#: At most one look (capture) per task per this many seconds.
DEBOUNCE = 0.025
#: A task whose screen does not yet show what Codex announced is looked at
#: again after this many seconds (times the tries so far), up to SETTLE_TRIES.
SETTLE_RETRY = 0.5
SETTLE_TRIES = 4
#: A prompt of no known kind must still be up this long after it was first seen.
UNKNOWN_CONFIRM = 0.3
#: Output lines kept per task for the loop guard.
LOOP_LINES = LOOP_MAX_BLOCK * LOOP_REPEATS * 2
#: Only output printed in these states can be a loop (a prompt that is redrawn is not).
LOOP_STATES = frozenset({"working", "stalled"})
#: After a restart, state changes younger than this that no sink saw yet are notified.
RENOTIFY_WITHIN = 600.0
#: Gather file events this long before reading them: one wake-up per burst.
COALESCE = 0.02
#: How often a busy task's bytes are checked for real output (the stall clock's step)
#: and for loops.
PROGRESS_RESOLUTION = 1.0
#: At most this much output waits for the loop guard.
MAX_PENDING = 1 << 16
#: Bytes kept from the end of the last read, so an escape split across two
#: writes is still found.
CARRY = 128
#: At most this much of a burst of new bytes is analysed (the rest is skipped).
MAX_READ = 1 << 20
#: A task whose shim ended is looked at again, this many seconds times the tries
#: so far, until tmux shows its pane dead (it learns of the exit a moment later).
EXIT_RETRY = 0.2
EXIT_TRIES = 10


# -- what it knows of each task ------------------------------------------------


@dataclass
class Track:
    """The monitor's memory of one task (rebuilt from the store and logs on restart)."""

    state: str
    mode: str
    offset: int = 0  # bytes of the log already read
    carry: bytes = b""
    announced: str | None = None  # the last state escape Codex printed
    unsettled: bool = False  # the store does not show what Codex announced yet
    settle_tries: int = 0
    last_look: float = -math.inf
    look_due: float | None = None
    progress_at: float = 0.0  # monotonic time of the last progress: something not drawn lately
    poked: bool = False
    unknown_since: float | None = None  # first look that saw a prompt of no known kind
    killing: bool = False  # a policy kill is under way
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOOP_LINES))  # loop keys
    printed: deque[str] = field(default_factory=lambda: deque(maxlen=LOOP_LINES))  # as printed
    looping_since: float | None = None  # the loop guard saw one block repeated
    loop_block: tuple[str, ...] = ()
    attempt: int = 1  # the task's attempt this record follows (a resume starts anew)
    session_at: float | None = None  # when to look for the TUI's rollout file (again)
    session_tries: int = 0
    task: Task | None = None  # cached while nobody writes to the store
    generation: int = -1
    fd: int = -1  # the log, open for reading
    pending: bytearray = field(default_factory=bytearray)  # not yet seen by the loop guard
    unweighed: bytearray = field(default_factory=bytearray)  # not yet weighed for progress
    seen: Seen = field(default_factory=Seen)  # what it drew lately (a repaint is no progress)
    scanned_at: float = -math.inf
    live_state: str = ""  # the state it was last seen in while live
    shim_pid: int | None = None  # the shim whose end is watched
    shim_gone: bool = False  # it ended: looked at until the task is seen to end
    exit_tries: int = 0

    def __post_init__(self) -> None:
        if not self.live_state and self.state not in FINAL_STATES:
            self.live_state = self.state

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _agrees(announced: str | None, state: str) -> bool:
    """Whether a task's state is what Codex's last announcement leads to."""
    if announced is None or state in FINAL_STATES:
        return True
    if announced.startswith("blocked"):
        return state == "waiting"
    if announced.startswith("working"):
        return state in ("working", "stalled")
    if announced.startswith(("done", "idle", "error")):
        return state in ("idle", "starting")
    return True


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


class Monitor:
    """Keeps the tasks of one state directory current; :meth:`run` until :meth:`stop`."""

    def __init__(
        self,
        ctx: Context,
        log: Callable[[str], None] = lambda line: None,
        notifier: Any = None,
    ) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.home = ctx.store.home
        self.config = ctx.config
        self.log = log
        self.notifier = notifier
        self.queue: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        # A shim that ends without a word (SIGKILL) writes nothing: its end is an event too.
        self.procs = ProcessWatch(lambda task_id: self.queue.put(("exited", task_id)))
        self.tracks: dict[int, Track] = {}
        self.stopping = threading.Event()
        self.last_event = 0
        self.looks = 0  # captures made (for benchmarks and tests)
        self.actions = ThreadPoolExecutor(max_workers=2, thread_name_prefix="policy")
        self.acting: set[int] = set()  # tasks a policy action is under way for
        self.decided: dict[int, str | None] = {}  # the prompt a policy last decided on
        self.resume_due: dict[int, float] = {}  # automatic resumes planned (max_resumes)
        self._generation = 0  # cached tasks are good while this stays
        self._seen_version: tuple[int, int] = (-1, -1)
        self._flushed_version: tuple[int, int] = (-1, -1)
        self._saved_event = -1

    # -- life ---------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler)."""
        self.stopping.set()
        self.queue.put(("stop", 0))

    def run(self) -> None:
        logs = ensure_dir(logs_dir(self.home))
        wakes = ensure_dir(wake_dir(self.home))
        watch = DirWatch([logs, wakes], self._on_changes, gather=COALESCE)
        watch.start()  # before reconciling, so no byte written meanwhile is missed
        self.procs.start()
        try:
            self.last_event = self._notified_upto()
            try:
                self.reconcile()
            except Exception:  # tmux may be briefly out of reach: the logs still lead
                self.log("error while reconciling: " + traceback.format_exc().rstrip())
            self._flush_events()
            for task in self.store.tasks():
                if not task.final or task.state in ("lost", "failed"):
                    self._policy(task)  # prompts already up: only now, after a fresh look
            while not self.stopping.is_set():
                self._step()
        finally:
            watch.stop()
            self.procs.stop()
            self.actions.shutdown(wait=True, cancel_futures=True)
            for track in self.tracks.values():
                track.close()
            if self.notifier is not None:
                self.notifier.close()

    def _on_changes(self, changes: list[Change]) -> None:
        """Files written (the watcher's thread): queue the tasks they are about."""
        for folder, name, closed in changes:
            if folder < 0:  # the kernel dropped events: look at every live task
                self.queue.put(("all", 0))
                continue
            stem = name[:-4] if folder == 0 and name.endswith(".log") else name
            if folder == 0 and stem == name:
                continue
            if not (stem.isascii() and stem.isdigit()):
                continue
            task_id = int(stem)
            if folder == 1:
                self.queue.put(("wake", task_id))
            else:
                self.queue.put(("log", task_id))
                if closed:  # tmux closed the pipe: the pane or its window went away
                    self.queue.put(("wake", task_id))

    def reconcile(self) -> None:
        """Bring every live task up to date, as after a restart; start following their logs."""
        live = self.store.tasks(include_final=False)
        sizes = {t.id: _size(t.log_path) for t in live}  # read before looking: nothing missed
        refreshed = refresh(self.ctx, live, by="monitor", wake_monitor=False)
        started = time.monotonic()
        for task in self.store.tasks(include_final=False):
            self.tracks[task.id] = Track(
                state=task.state,
                mode=task.mode,
                offset=sizes.get(task.id, 0),
                announced=_codex_state(task) if task.mode == "tui" else None,
                progress_at=started,
                attempt=task.attempt,
            )
            # What it drew before: drawn again (a client attaching), it is no progress.
            self.tracks[task.id].seen.weigh(_tail(task.log_path, sizes.get(task.id, 0)))
            self._watch_shim(task, self.tracks[task.id])
        ended = sum(1 for task in refreshed if task.final)
        self.log(f"reconciled {len(live)} live task(s); {ended} of them had ended")

    # -- the loop -------------------------------------------------------------

    def _step(self) -> None:
        due = self._next_due()
        timeout = None if due is None else max(due - time.monotonic(), 0.0)
        logs: set[int] = set()
        wakes: set[int] = set()
        again: set[int] = set()
        try:
            item: tuple[str, int] | None = self.queue.get(timeout=timeout)
        except queue.Empty:
            item = None
        while item is not None:
            kind, task_id = item
            if kind == "log":
                logs.add(task_id)
            elif kind == "wake":
                wakes.add(task_id)
            elif kind == "exited":
                wakes.add(task_id)
                if task_id in self.tracks:
                    self.tracks[task_id].shim_gone = True
            elif kind == "all":
                wakes.update(t.id for t in self.store.tasks(include_final=False))
                logs.update(t.id for t in self.store.tasks(include_final=False))
            elif kind == "policy":
                again.add(task_id)
                wakes.add(task_id)
            elif kind == "stop":
                break
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                item = None
        if self.stopping.is_set():
            return
        try:
            self._check_store()
            self._handle(logs, wakes)
            if due is not None and time.monotonic() >= due:
                self._timers()
            self._flush_events()
            for task_id in sorted(again):
                task = self.store.get(task_id)
                if task is not None:
                    self._policy(task)
        except Exception as exc:  # one bad turn must not end the monitor
            if isinstance(exc, TmuxCodexError):  # a full disk, tmux out of reach: one line
                self.log(f"error: {exc}")
            else:
                self.log("error: " + traceback.format_exc().rstrip())
            for task_id in wakes | logs:  # look again next turn: nothing is dropped
                self.queue.put(("wake", task_id))
            self.stopping.wait(0.5)  # and a lasting fault must not spin

    def _version(self) -> tuple[int, int]:
        """Changes to the store: by other processes (``data_version``), and by this one."""
        return self.store.data_version(), self.store.writes

    def _check_store(self) -> None:
        """Forget cached tasks when anybody wrote to the store since the last look."""
        version = self._version()
        if version != self._seen_version:
            self._seen_version = version
            self._generation += 1

    def _task(self, task_id: int) -> Task | None:
        """The task, from the cache while nobody has written to the store."""
        track = self.tracks.get(task_id)
        if track is not None and track.task is not None and track.generation == self._generation:
            return track.task
        task = self.store.get(task_id)
        if track is not None and task is not None:
            track.task, track.generation = task, self._generation
        return task

    def _handle(self, logs: set[int], wakes: set[int]) -> None:
        clock = time.monotonic()
        look: set[int] = set()
        progressed: set[int] = set()
        for task_id in sorted(logs | wakes):
            task = self._task(task_id)
            if task is None:
                gone = self.tracks.pop(task_id, None)
                if gone is not None:
                    gone.close()
                continue
            track = self.tracks.get(task_id)
            if track is None and task.final:
                continue
            if track is not None and track.attempt != task.attempt:
                # Resumed: a new run of Codex; the log reads on from where it was.
                fresh = Track(state=task.state, mode=task.mode, progress_at=clock)
                fresh.offset, fresh.fd, fresh.attempt = track.offset, track.fd, task.attempt
                track = self.tracks[task_id] = fresh
            if track is None:  # started while the monitor runs: every byte is new
                track = Track(state=task.state, mode=task.mode, progress_at=clock)
                track.attempt = task.attempt
                self.tracks[task_id] = track
            track.task, track.generation = task, self._generation
            track.state, track.mode = task.state, task.mode
            if not task.final:
                track.live_state = task.state
            new = self._read_new(task, track) if task_id in logs else b""
            if task.final:
                self.procs.forget(task_id)
                # What it printed last still counts for the loop guard.
                working = track.live_state in LOOP_STATES
                self._watch_loop(task, track, bytes(track.pending) + new, clock, working)
                track.pending.clear()
                track.close()
                continue
            self._watch_shim(task, track)
            wanted = task_id in wakes
            if new:
                wanted = self._output(task, track, new, clock, progressed) or wanted
            if not wanted:
                continue
            if clock - track.last_look >= DEBOUNCE or task_id in wakes:
                look.add(task_id)
            else:
                due = track.last_look + DEBOUNCE
                track.look_due = due if track.look_due is None else min(track.look_due, due)
        if look:
            self._look(look, progressed)

    def _output(
        self, task: Task, track: Track, new: bytes, clock: float, progressed: set[int]
    ) -> bool:
        """What new bytes of a live task tell; whether it should be looked at."""
        # An escape cut by a read is found whole once its end arrives (carry + new).
        escaped = b"\x1b]7501" in new or b"\x1b]7501" in track.carry
        table = patterns_for(task.codex_version)
        found: list[str] = []
        if escaped:
            found = [
                value for value, end in _escapes(track.carry + new, table) if end > len(track.carry)
            ]
        track.carry = (track.carry + new)[-CARRY:]
        wanted = False
        if found and found[-1] != track.announced:
            track.announced = found[-1]
            track.unsettled = not _agrees(track.announced, task.state)
            track.settle_tries = 0
            wanted = track.unsettled
        # The stall clock needs a resolution of about a second, not every write.
        # Every byte is weighed (a busy task's at most once a second), so what
        # it drew is known when it draws it again (a repaint is not progress).
        track.unweighed += new
        if len(track.unweighed) > MAX_PENDING:  # a task this busy progresses anyway
            del track.unweighed[:-MAX_PENDING]
        busy = task.state in ("working", "starting") and not track.unsettled
        if not busy or clock - track.progress_at >= PROGRESS_RESOLUTION:
            data = bytes(track.unweighed[-MAX_PENDING:])
            track.unweighed.clear()
            if track.seen.weigh(data, table):
                track.progress_at = clock
                track.poked = False
                if task.state == "stalled":
                    progressed.add(task.id)
                    wanted = True
            if track.unsettled and (b"Action Required" in new or is_progress(new, table)):
                wanted = True  # not on every spinner frame while a prompt is drawn
        if task.state == "starting":
            wanted = True
        track.pending += new
        if clock - track.scanned_at >= PROGRESS_RESOLUTION or len(track.pending) > MAX_PENDING:
            track.scanned_at = clock
            pending = bytes(track.pending[-MAX_PENDING:])
            whole = pending.rfind(b"\n") + 1  # a line cut by a read waits for its end
            track.pending = bytearray(pending[whole:])
            self._watch_loop(task, track, pending[:whole], clock, task.state in LOOP_STATES)
        if not task.codex_session_id:
            if any(a.startswith("working") for a in found):
                track.session_tries = 0  # a turn began: its rollout file is being made
                track.session_at = clock
            if task.mode == "exec" or (track.session_at is not None and clock >= track.session_at):
                self._learn_session(task, track, new, clock)
        return wanted

    def _watch_loop(
        self, task: Task, track: Track, new: bytes, clock: float, working: bool
    ) -> None:
        """The loop guard: an event when the output repeats one block over and over.

        Only what a ``working`` (or ``stalled``) task prints counts: a prompt that
        Codex redraws while it waits is no loop. Lines are compared as printed,
        digits and all, except for times (``in 5ms``, ``10:02:03``): a counter
        that goes up is progress. Each line is weighed as it comes, so a loop is
        seen even when the same read also brings what followed it (a task that
        gave up and ended).
        """
        if not working:
            return
        for text in output_lines(new):
            line = loop_key(text)
            track.lines.append(line)
            track.printed.append(text)
            if track.looping_since is not None:
                if line in track.loop_block:
                    continue
                track.looping_since = None  # the loop is broken by a line not of it
            # A block that ends here repeats only if this line was seen among the last few.
            recent = list(track.lines)[-LOOP_MAX_BLOCK - 1 : -1]
            if line not in recent:
                continue
            found = repeated_block(list(track.lines))
            if found is None:
                continue
            track.looping_since = clock
            size, times = found
            track.loop_block = tuple(list(track.lines)[-size:])
            first = track.printed[-size]
            self.store.audit(
                task.id,
                f"looping: the same {size}-line block {times} times in a row: {first}",
                by="monitor",
            )
            self.log(f"task {task.id} ({task.name}): looping")

    def _learn_session(self, task: Task, track: Track, new: bytes, clock: float) -> None:
        """Find the task's Codex session id as early as it shows: exec's header, the rollout.

        A TUI's rollout file appears around the start of its first turn; it is
        looked for then, and again with growing pauses (at most 20 times) until found.
        """
        session = None
        if task.mode == "exec":
            session = exec_session_id(visible_text(new))
        else:
            session = self._rollout_session(task)
            track.session_tries += 1
            # 1, 2, 4 … 30 s apart: soon for a turn that just began, cheap for one that hangs.
            pause = min(2.0 ** (track.session_tries - 1), 30.0)
            track.session_at = clock + pause if track.session_tries < 20 else None
        if session:
            track.session_at = None
            self.store.update(task.id, codex_session_id=session)
            self.log(f"task {task.id} ({task.name}): Codex session {session}")

    def _rollout_session(self, task: Task) -> str | None:
        if not task.codex_home:
            return None
        taken = self.store.session_ids() - {task.codex_session_id or ""}
        return find_session(
            Path(task.codex_home), task.workdir, task.created_at, task.prompt, taken
        )

    def _read_new(self, task: Task, track: Track) -> bytes:
        """The bytes of the task's log after what was read before (the file stays open)."""
        try:
            if track.fd < 0:
                track.fd = os.open(task.log_path, os.O_RDONLY | os.O_CLOEXEC)
            size = os.fstat(track.fd).st_size
            if size < track.offset:  # never done by tmux-codex; start again
                track.offset = 0
            if size == track.offset:
                return b""
            start = max(track.offset, size - MAX_READ)
            data = os.pread(track.fd, size - start, start)
        except OSError:
            track.close()
            return b""
        track.offset = start + len(data)
        return data

    def _look(self, ids: set[int], progressed: set[int] | None = None) -> None:
        """Capture and classify these tasks now (one tmux call per server)."""
        clock = time.monotonic()
        for task_id in ids:
            if task_id in self.tracks:
                self.tracks[task_id].last_look = clock
                self.tracks[task_id].look_due = None
        tasks = [t for t in (self.store.get(i) for i in sorted(ids)) if t and not t.final]
        tasks = [t for t in tasks if t.id in self.tracks]
        if not tasks:
            return
        self.looks += len(tasks)
        announced = {t.id: self.tracks[t.id].announced for t in tasks}
        fresh = refresh(
            self.ctx,
            tasks,
            announced=announced,
            progressed=frozenset(progressed or ()),
            by="monitor",
            hold=self._hold,
            wake_monitor=False,
        )
        for task in fresh:
            track = self.tracks[task.id]
            track.state = task.state
            if track.shim_gone and not task.final and track.exit_tries < EXIT_TRIES:
                track.exit_tries += 1
                due = clock + EXIT_RETRY * track.exit_tries
                track.look_due = due if track.look_due is None else min(track.look_due, due)
            settled = _agrees(track.announced, task.state)
            if settled or task.state == "starting":
                track.unsettled = not settled
                if settled:
                    track.settle_tries = 0
                continue
            track.unsettled = True
            track.settle_tries += 1
            if track.settle_tries <= SETTLE_TRIES:
                due = clock + SETTLE_RETRY * track.settle_tries
                track.look_due = due if track.look_due is None else min(track.look_due, due)

    def _watch_shim(self, task: Task, track: Track) -> None:
        """Hear of the end of the task's shim, even one killed without a word."""
        pid = task.shim_pid
        if not pid or pid == track.shim_pid or task.final:
            return
        track.shim_pid, track.shim_gone, track.exit_tries = pid, False, 0
        if _shim_alive(pid):
            self.procs.watch(task.id, pid)
        else:
            self.queue.put(("exited", task.id))

    def _hold(self, task: Task, verdict: Verdict) -> bool:
        """Whether to wait before writing this verdict: a prompt of no known kind.

        Codex says "blocked" and sets the "Action Required" title before it
        draws the prompt, and tmux may show half a frame: a look then sees a
        prompt it cannot name. Only one still there :data:`UNKNOWN_CONFIRM`
        later is ``waiting``/``unknown``.
        """
        track = self.tracks[task.id]
        if verdict.state != "waiting" or verdict.reason != "unknown":
            track.unknown_since = None
            return False
        if task.state == "waiting" and task.reason == "unknown":
            return False
        clock = time.monotonic()
        if track.unknown_since is None:
            track.unknown_since = clock
        if clock - track.unknown_since >= UNKNOWN_CONFIRM:
            return False
        track.look_due = track.unknown_since + UNKNOWN_CONFIRM
        return True

    # -- time-based states --------------------------------------------------

    def _due_times(self, track: Track) -> list[float]:
        times = [] if track.look_due is None else [track.look_due]
        monitor = self.config.monitor
        if track.state == "working" and monitor.stall_after > 0:
            times.append(track.progress_at + monitor.stall_after)
        if (
            track.state == "stalled"
            and track.mode == "tui"
            and not track.poked
            and monitor.poke_after > 0
        ):
            times.append(track.progress_at + max(monitor.poke_after, monitor.stall_after))
        kill_after = self.config.policy.kill_after
        if track.state == "stalled" and kill_after > 0 and not track.killing:
            times.append(track.progress_at + max(kill_after, monitor.stall_after))
        if (
            track.looping_since is not None
            and track.state in ("working", "stalled")
            and kill_after > 0
            and not track.killing
        ):
            times.append(track.looping_since + kill_after)
        return times

    def _next_due(self) -> float | None:
        """When the next timer is due (worked out anew each turn: timers come and go)."""
        best = min(self.resume_due.values(), default=math.inf)
        stall_after = self.config.monitor.stall_after
        for task_id, track in self.tracks.items():
            if task_id in self.acting:
                continue  # a policy action is under way: its end wakes the loop
            if track.state == "working" and track.look_due is None and track.looping_since is None:
                # The common case, kept cheap: 50 busy tasks, a turn per 10 ms.
                if stall_after > 0 and track.progress_at + stall_after < best:
                    best = track.progress_at + stall_after
            elif track.state not in FINAL_STATES or track.look_due is not None:
                best = min(best, *self._due_times(track), math.inf)
        return None if best == math.inf else best

    def _timers(self) -> None:
        clock = time.monotonic()
        monitor = self.config.monitor
        looks: set[int] = set()
        stalls: list[int] = []
        pokes: list[int] = []
        for task_id, track in self.tracks.items():
            if track.look_due is not None and track.look_due <= clock:
                looks.add(task_id)
            silent = clock - track.progress_at
            if track.state == "working" and 0 < monitor.stall_after <= silent:
                stalls.append(task_id)
            elif (
                track.state == "stalled"
                and track.mode == "tui"
                and not track.poked
                and monitor.poke_after > 0
                and max(monitor.poke_after, monitor.stall_after) <= silent
            ):
                pokes.append(task_id)
        if looks:
            self._look(looks)
        for task_id in stalls:
            self._stall(task_id)
        for task_id in pokes:
            self._poke(task_id)
        for task_id, due in list(self.resume_due.items()):
            if due <= clock:
                del self.resume_due[task_id]
                if task_id not in self.acting:
                    self._submit(task_id, "resume")
        for task_id, track in self.tracks.items():
            looping = track.looping_since is not None and track.state in ("working", "stalled")
            task = self.store.get(task_id) if track.state == "stalled" or looping else None
            if task is None or track.killing or task_id in self.acting:
                continue
            if looping and track.looping_since is not None:
                decision = should_kill(
                    task, clock - track.looping_since, self.config.policy, looping=True
                )
            else:
                decision = should_kill(task, clock - track.progress_at, self.config.policy)
            if decision is not None:
                track.killing = True
                self._submit(task_id, "kill", f"{decision.detail} ({decision.rule})")

    def _stall(self, task_id: int) -> None:
        track = self.tracks[task_id]
        if track.mode == "tui":
            self._look({task_id})  # still working, and not at a prompt drawn silently?
        task = self.store.get(task_id)
        if task is None or task.state != "working":
            if task is not None:
                track.state = task.state
            return
        silent = _duration(self.config.monitor.stall_after)
        if self.store.set_state(
            task_id,
            "stalled",
            detail=f"no output for {silent} while working",
            only_from=frozenset({"working"}),
            prompt_text=None,
        ):
            track.state = "stalled"
            track.poked = False

    def _poke(self, task_id: int) -> None:
        from tmux_codex.tasks.act import poke

        track = self.tracks[task_id]
        track.poked = True
        task = self.store.get(task_id)
        if task is None or task.state != "stalled":
            return
        silent = _duration(max(self.config.monitor.poke_after, self.config.monitor.stall_after))
        try:
            poke(self.ctx, str(task_id), by="monitor", why=f"{silent} without output")
        except Exception as exc:
            self.log(f"task {task_id}: could not poke: {exc}")

    # -- telling the user ---------------------------------------------------

    def _flush_events(self) -> None:
        """Every state change since the last flush, whoever wrote it, to the sinks."""
        version = self._version()
        if version == self._flushed_version:
            return
        self._flushed_version = version
        for event in self.store.events(after=self.last_event):
            self.last_event = event.id
            if event.from_state == event.to_state:
                continue  # an action on record, not a change
            task = self.store.get(event.task)
            if task is None:
                continue
            track = self.tracks.get(task.id)
            if track is not None:  # kept when it ends: a resumed task reads on from here
                track.state = task.state
            self.log(
                f"task {task.id} ({task.name}): {event.from_state or 'new'} -> {event.label} "
                f"by {event.by}"
            )
            if self.notifier is not None:
                self.notifier.state_changed(task, event)
            self._policy(task)
        self._save_notified()

    def _notified_upto(self) -> int:
        """The last event a monitor of this home handed to the sinks (kept across restarts).

        Events after it are notified now, unless older than :data:`RENOTIFY_WITHIN`
        (a monitor that was off for a day does not replay the day).
        """
        try:
            saved = int(json.loads(notified_path(self.home).read_text())["event"])
        except (OSError, ValueError, KeyError, TypeError):
            return self.store.last_event_id()
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=RENOTIFY_WITHIN)
        stamp = cutoff.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for event in self.store.events(after=saved):
            if event.at >= stamp:
                return event.id - 1
        return self.store.last_event_id()

    def _save_notified(self) -> None:
        if self.last_event == self._saved_event:
            return
        self._saved_event = self.last_event
        path = notified_path(self.home)
        tmp = path.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"event": self.last_event}, fh)
            os.replace(tmp, path)

    # -- policies -------------------------------------------------------------

    def _policy(self, task: Task) -> None:
        """Carry out what the policies say of a task that just changed state."""
        if task.state in ("lost", "failed"):
            self._plan_resume(task)
        if task.state != "waiting":
            self.decided.pop(task.id, None)
            return
        if task.id in self.acting or self.decided.get(task.id) == task.prompt_text:
            return
        decision = on_prompt(task, self.config.policy, hooks=task.hooks)
        if decision is None:
            return
        self.decided[task.id] = task.prompt_text
        if decision.choice is None:
            self.store.audit(
                task.id, f"{decision.detail} ({decision.rule})\n{task.prompt_text}", by="policy"
            )
            return
        self._submit(task.id, "answer", decision.choice, decision.rule, task.prompt_text)

    def _plan_resume(self, task: Task) -> None:
        """``max_resumes``: schedule an automatic resume of a lost or failed TUI task."""
        if task.id in self.resume_due or task.id in self.acting:
            return
        resumes = sum(
            1
            for e in self.store.events(task.id)
            if e.by == "policy" and (e.detail or "").startswith("resumed Codex session")
        )
        delay = resume_delay(task, self.config.policy, resumes, _tmux_up(task.tmux_socket))
        if delay is None:
            return
        self.resume_due[task.id] = time.monotonic() + delay
        self.log(f"task {task.id} ({task.name}): resuming in {delay:g}s (max_resumes)")

    def _submit(self, task_id: int, action: str, *args: Any) -> None:
        """Run an action on a task in a worker (it waits for tmux; the loop must not)."""
        self.acting.add(task_id)
        self.actions.submit(self._act, task_id, action, *args)

    def _act(self, task_id: int, action: str, *args: Any) -> None:
        from tmux_codex.core.store import Store
        from tmux_codex.tasks.act import answer, kill

        try:
            with Store(self.home) as store:
                ctx = Context(store=store, config=self.config, socket=self.ctx.socket)
                if action == "answer":
                    choice, rule, prompt = args
                    answer(
                        ctx,
                        str(task_id),
                        choice,
                        by="policy",
                        rule=rule,
                        expect_prompt=prompt,
                        timeout=4.0,
                    )
                elif action == "kill":
                    kill(ctx, str(task_id), by="policy", why=str(args[0]))
                elif action == "resume":
                    from tmux_codex.tasks.resume import resume

                    resume(ctx, str(task_id), None, by="policy", verify=15.0)
        except Exception as exc:
            self.log(f"task {task_id}: policy {action} failed: {exc}")
        finally:
            self.acting.discard(task_id)
            self.queue.put(("policy", task_id))  # what the policies say now, on the loop


def _tmux_up(socket: str) -> bool:
    """Whether the tmux server ``socket`` runs (resuming into a dead server would loop)."""
    import subprocess

    base = ["tmux", "-L", socket] if socket else ["tmux"]
    try:
        done = subprocess.run([*base, "list-sessions"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _tail(path: str, end: int, size: int = 1 << 16) -> bytes:
    """The ``size`` bytes of a log before ``end`` (b"" when unreadable)."""
    try:
        with open(path, "rb") as fh:
            start = max(end - size, 0)
            fh.seek(start)
            return fh.read(end - start)
    except OSError:
        return b""


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _escapes(data: bytes, table: Patterns) -> list[tuple[str, int]]:
    """Codex's state escapes in ``data``, each with where it ends."""
    return [
        (m.group(1).decode(errors="replace"), m.end()) for m in table.state_escape.finditer(data)
    ]


def serve(ctx: Context, notifier: Any = None) -> None:
    """Run the monitor of ``ctx``'s state directory in this process until SIGTERM/SIGINT."""
    lock = Lock(ctx.store.home)
    lock.acquire()

    def log(line: str) -> None:
        with contextlib.suppress(OSError):  # a full disk must not end the monitor
            print(f"{now()} {line}", flush=True)

    monitor = Monitor(ctx, log=log, notifier=notifier)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        monitor.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log(f"monitor {os.getpid()} watching {ctx.store.home}")
    try:
        monitor.run()
    finally:
        lock.release()
        log(f"monitor {os.getpid()} stopped")


__all__ = ["DEBOUNCE", "Monitor", "serve"]
