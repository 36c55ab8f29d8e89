"""The monitor's word: which tasks' stored states it vouches for, said after each turn.

What it means, and how reads use it: :mod:`tmux_codex.tasks.vouch`. Here the
monitor works it out from its tracks (:func:`~tmux_codex.monitor.track.vouches`)
and writes it, only when it says something new, or takes it back when a turn
failed (the store may then be behind what the logs show).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from tmux_codex.core.models import Task
from tmux_codex.monitor.track import Track, vouches
from tmux_codex.tasks import vouch
from tmux_codex.tasks.procs import writers

#: A next timer that moved by less than this is not news (the stall clock steps by 1 s).
SAME_DUE = 0.5


class Voucher:
    """What this run of the monitor says; silent (no file) without a token."""

    def __init__(self, home: Path, token: str = "") -> None:
        self.home = home
        self.token = token
        self._said: tuple[float | None, dict[int, vouch.Entry]] | None = None

    def say(self, tracks: dict[int, Track], due: float | None, clock: float) -> None:
        """Vouch for the tasks whose tracks allow it (``due``, ``clock``: monotonic)."""
        if not self.token:
            return
        tasks = {
            i: (t.offset, t.woken, t.judged)
            for i, t in tracks.items()
            if vouches(t) and t.judged is not None
        }
        wall = None if due is None else time.time() + (due - clock)
        if self._said is not None and self._said[1] == tasks:
            last = self._said[0]
            if last is None and wall is None:
                return
            if last is not None and wall is not None and abs(last - wall) < SAME_DUE:
                return
        try:
            vouch.publish(self.home, self.token, wall, tasks)
        except OSError:  # a full disk: no word, and readers look for themselves
            self.withdraw()
            return
        self._said = (wall, tasks)

    def withdraw(self) -> None:
        """Take the word back (a failed turn; the monitor stops)."""
        self._said = None
        if self.token:
            with contextlib.suppress(OSError):
                vouch.withdraw(self.home)


def mark_unwritten(tracks: dict[int, Track], live: list[Task]) -> None:
    """Mark the logs of ``live`` tasks that no process writes to as closed.

    For when their close may not have been heard (the monitor restarted, the
    kernel dropped events): tmux says a pane is piped until it prints again,
    though the ``cat`` behind its ``pipe-pane`` died. New bytes clear the mark.
    """
    paths = {t.id: t.log_path for t in live if t.id in tracks}
    found = writers(list(paths.values()))
    for task_id, path in paths.items():
        if found is None or path not in found:
            tracks[task_id].log_closed = True
