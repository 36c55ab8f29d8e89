"""What the monitor remembers of each task between turns: one :class:`Track` per task.

Every stage reads and updates the fields of its own concern (read: the log's
offset, escapes, progress, loop guard; look: when to look again; timers:
poked, killing). A track is rebuilt from the store and the log when the
monitor restarts, and started anew when a task is resumed.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import deque
from dataclasses import dataclass, field

from tmux_codex.codex.output import LOOP_MAX_BLOCK, LOOP_REPEATS
from tmux_codex.core.models import FINAL_STATES, Task
from tmux_codex.monitor.progress import Seen

#: Output lines kept per task for the loop guard.
LOOP_LINES = LOOP_MAX_BLOCK * LOOP_REPEATS * 2
#: Only output printed in these states can be a loop (a prompt that is redrawn is not).
LOOP_STATES = frozenset({"working", "stalled"})


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
    pipe: bool | None = None  # its log was on (pipe-pane) at the last look; None: not looked
    log_closed: bool = False  # its log's writer closed it, and nothing was written since
    woken: int = 0  # the wakes about it (tmux_codex.core.wake.wakes) read before the last look
    judged: int | None = None  # the fingerprint of the verdict its last look reached

    def __post_init__(self) -> None:
        if not self.live_state and self.state not in FINAL_STATES:
            self.live_state = self.state

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def follow(task: Task, track: Track | None, clock: float) -> Track:
    """The track to follow ``task`` with from now on.

    A task started while the monitor runs gets a new track (every byte of its
    log is new); a resumed one (another attempt) too, but its log reads on
    from where it was. Either way its stall clock starts at ``clock``.
    """
    if track is not None and track.attempt == task.attempt:
        return track
    fresh = Track(state=task.state, mode=task.mode, progress_at=clock)
    fresh.attempt = task.attempt
    if track is not None:  # resumed: a new run of Codex; the log reads on from where it was
        fresh.offset, fresh.fd, fresh.woken = track.offset, track.fd, track.woken
    return fresh


def agrees(announced: str | None, state: str) -> bool:
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


def schedule_look(track: Track, due: float) -> None:
    """Look at the task at ``due`` at the latest (an earlier look already due stays)."""
    track.look_due = due if track.look_due is None else min(track.look_due, due)


def vouches(track: Track) -> bool:
    """Whether a fresh look at the task would find the verdict its last look reached, as
    far as the monitor can tell: every byte read was weighed, and no look is wanted or
    put off (readers check that the store still holds that verdict)."""
    return (
        track.state not in FINAL_STATES
        and track.judged is not None
        and track.pipe is True
        and not track.log_closed
        and track.look_due is None
        and not track.unsettled
        and track.unknown_since is None
        and not track.shim_gone
    )
