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


def writers(paths: list[str]) -> set[str] | None:
    """Those of ``paths`` that a process has open for writing (a log's ``cat``, say).

    Read from ``/proc`` (every process of this user: their open files and the
    mode each is open in); None where there is no ``/proc`` to tell. Costs a
    scan of every process: for a restart, not for every turn.
    """
    wanted = {os.path.realpath(p): p for p in paths}
    found: set[str] = set()
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    for pid in pids:
        folder = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(folder)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{folder}/{fd}")
            except OSError:
                continue
            if target not in wanted or wanted[target] in found:
                continue
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}", "rb") as fh:
                    flags = next(
                        (int(line.split()[1], 8) for line in fh if line.startswith(b"flags:")), 0
                    )
            except (OSError, ValueError, IndexError):
                continue
            if flags & os.O_ACCMODE != os.O_RDONLY:
                found.add(wanted[target])
    return found
