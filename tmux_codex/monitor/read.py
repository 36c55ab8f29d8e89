"""Read: what a task's new log bytes tell, as one :class:`Reading`.

:func:`read_log` takes the new bytes from the log (``pread`` from where the
last read ended; the file stays open). :func:`read` weighs them, with no I/O:
Codex's state escapes (``ESC]7501;state=…``) and whether the store must be
checked against them, progress (something the task has not drawn lately:
the stall clock), the loop guard, and the Codex session id (exec's header;
for a TUI, when to look for its rollout file). It updates the task's
:class:`~tmux_codex.monitor.track.Track` and says in the :class:`Reading`
what the loop must do: look, record a loop, record a session id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tmux_codex.codex.output import (
    LOOP_MAX_BLOCK,
    is_progress,
    loop_key,
    output_lines,
    repeated_block,
    visible_text,
)
from tmux_codex.codex.patterns import Patterns, patterns_for
from tmux_codex.codex.sessions import exec_session_id
from tmux_codex.core.models import Task
from tmux_codex.monitor.track import LOOP_STATES, Track, agrees
from tmux_codex.tasks.refresh import codex_state

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
#: What a restarted monitor reads of a live task's log: what it drew before.
TAIL = 1 << 16
#: Looks for a TUI's rollout file at most this many times; pauses double up to SESSION_PAUSE.
SESSION_TRIES = 20
SESSION_PAUSE = 30.0


@dataclass(frozen=True)
class Loop:
    """The loop guard saw one block of lines printed over and over."""

    size: int  # lines in the block
    times: int  # copies in a row
    first: str  # the block's first line, as printed

    @property
    def detail(self) -> str:
        return f"looping: the same {self.size}-line block {self.times} times in a row: {self.first}"


@dataclass
class Reading:
    """What one read of a task's new bytes found (its track is updated already)."""

    task_id: int
    look: bool = False  # look at the task (unless a look is due within DEBOUNCE)
    escapes: tuple[str, ...] = ()  # Codex's state escapes in the new bytes, in order
    announced: str | None = None  # the last one Codex printed (this read or before)
    unsettled: bool = False  # the store does not show yet what Codex announced
    progressed: bool = False  # it drew something not drawn lately: the stall clock restarts
    unstalled: bool = False  # ... while stored ``stalled``: the look may let it leave stalled
    loops: list[Loop] = field(default_factory=list)  # to record, in order
    session: str | None = None  # the session id exec's header shows
    find_rollout: bool = False  # time to look for the TUI's rollout file


def read_log(path: str, track: Track, limit: int = MAX_READ) -> bytes:
    """The bytes of a log after what was read before (the file stays open in ``track``)."""
    try:
        if track.fd < 0:
            track.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        size = os.fstat(track.fd).st_size
        if size < track.offset:  # never done by tmux-codex; start again
            track.offset = 0
        if size == track.offset:
            return b""
        start = max(track.offset, size - limit)
        data = os.pread(track.fd, size - start, start)
    except OSError:
        track.close()
        return b""
    track.offset = start + len(data)
    return data


def log_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def log_tail(path: str, end: int, size: int = TAIL) -> bytes:
    """The ``size`` bytes of a log before ``end`` (b"" when unreadable)."""
    try:
        with open(path, "rb") as fh:
            start = max(end - size, 0)
            fh.seek(start)
            return fh.read(end - start)
    except OSError:
        return b""


def catch_up(task: Task, offset: int, clock: float) -> Track:
    """A live task's track after a restart: its log read from ``offset`` on.

    The last state Codex announced before ``offset`` comes from the log (one
    it printed after is new, read as the log is followed), and what it drew
    before ``offset`` is remembered (drawn again, by a client attaching, it is
    no progress). The stall clock starts at ``clock``.
    """
    track = Track(
        state=task.state,
        mode=task.mode,
        offset=offset,
        announced=codex_state(task, offset) if task.mode == "tui" else None,
        progress_at=clock,
        attempt=task.attempt,
    )
    track.seen.weigh(log_tail(task.log_path, offset))
    return track


def escapes(data: bytes, table: Patterns) -> list[tuple[str, int]]:
    """Codex's state escapes in ``data``, each with where it ends."""
    return [
        (m.group(1).decode(errors="replace"), m.end()) for m in table.state_escape.finditer(data)
    ]


def read(task: Task, track: Track, new: bytes, clock: float) -> Reading:
    """What new bytes of a live task tell (``clock``: monotonic seconds now). No I/O."""
    reading = Reading(task.id)
    # An escape cut by a read is found whole once its end arrives (carry + new).
    escaped = b"\x1b]7501" in new or b"\x1b]7501" in track.carry
    table = patterns_for(task.codex_version)
    found: list[str] = []
    if escaped:
        found = [
            value for value, end in escapes(track.carry + new, table) if end > len(track.carry)
        ]
    track.carry = (track.carry + new)[-CARRY:]
    reading.escapes = tuple(found)
    if found and found[-1] != track.announced:
        track.announced = found[-1]
        track.unsettled = not agrees(track.announced, task.state)
        track.settle_tries = 0
        reading.look = track.unsettled
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
            reading.progressed = True
            if task.state == "stalled":
                reading.unstalled = True
                reading.look = True
            elif task.state == "waiting":
                # Something new drawn at a prompt: the next prompt of the turn (Codex
                # stays "blocked" between them), or the prompt answered in the window.
                reading.look = True
        if track.unsettled and (b"Action Required" in new or is_progress(new, table)):
            reading.look = True  # not on every spinner frame while a prompt is drawn
    if task.state == "starting":
        reading.look = True
    track.pending += new
    if clock - track.scanned_at >= PROGRESS_RESOLUTION or len(track.pending) > MAX_PENDING:
        track.scanned_at = clock
        pending = bytes(track.pending[-MAX_PENDING:])
        whole = pending.rfind(b"\n") + 1  # a line cut by a read waits for its end
        track.pending = bytearray(pending[whole:])
        reading.loops = loop_guard(track, pending[:whole], clock, task.state in LOOP_STATES)
    if not task.codex_session_id:
        if any(a.startswith("working") for a in found):
            track.session_tries = 0  # a turn began: its rollout file is being made
            track.session_at = clock
        if task.mode == "exec":
            reading.session = exec_session_id(visible_text(new))
            if reading.session:
                track.session_at = None
        elif track.session_at is not None and clock >= track.session_at:
            # A TUI's rollout file appears around the start of its first turn; it
            # is looked for then, and again with growing pauses until found:
            # 1, 2, 4 … 30 s apart, soon for a turn that just began, cheap for one that hangs.
            reading.find_rollout = True
            track.session_tries += 1
            pause = min(2.0 ** (track.session_tries - 1), SESSION_PAUSE)
            track.session_at = clock + pause if track.session_tries < SESSION_TRIES else None
    reading.announced = track.announced
    reading.unsettled = track.unsettled
    return reading


def read_final(track: Track, new: bytes, clock: float) -> list[Loop]:
    """The last bytes of a task that ended: what it printed last still counts for the loop
    guard, if it printed it while working. No I/O (the caller closes the log)."""
    working = track.live_state in LOOP_STATES
    loops = loop_guard(track, bytes(track.pending) + new, clock, working)
    track.pending.clear()
    return loops


def loop_guard(track: Track, new: bytes, clock: float, working: bool) -> list[Loop]:
    """The loop guard: the loops whole lines of output show, each once, as it is seen.

    Only what a ``working`` (or ``stalled``) task prints counts: a prompt that
    Codex redraws while it waits is no loop. Lines are compared as printed,
    digits and all, except for times (``in 5ms``, ``10:02:03``): a counter
    that goes up is progress. Each line is weighed as it comes, so a loop is
    seen even when the same read also brings what followed it (a task that
    gave up and ended).
    """
    found: list[Loop] = []
    if not working:
        return found
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
        repeated = repeated_block(list(track.lines))
        if repeated is None:
            continue
        track.looping_since = clock
        size, times = repeated
        track.loop_block = tuple(list(track.lines)[-size:])
        found.append(Loop(size, times, track.printed[-size]))
    return found
