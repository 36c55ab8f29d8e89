"""A task's shim as a process: whether it still runs (read from ``/proc``; no tmux)."""

from __future__ import annotations

import os


def process_state(pid: int) -> str | None:
    """The state letter of a process (``R``, ``S``, ``Z`` for a zombie, …); None if gone.

    Where there is no ``/proc``, a process that exists is ``?``.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0].decode()
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "?"


def shim_alive(pid: int | None) -> bool:
    """Whether the task's shim still runs (then it will record how Codex ended).

    A zombie does not: it has ended, and only its parent (tmux) can learn how.
    """
    if not pid:
        return False
    state = process_state(pid)
    if state is None or state == "Z":
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read()
        # tmux_codex.tasks.shim; tmux_codex.shim before the package had rooms
        return b"tmux_codex.tasks.shim" in argv or b"tmux_codex.shim" in argv
    except OSError:
        return True  # no /proc here: the pid exists, trust it
