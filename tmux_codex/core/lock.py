"""The monitor's lock: one monitor per state directory, and who holds it.

The running monitor holds an ``flock`` on ``monitor.lock`` for its whole
life (the kernel drops it however the process dies) and writes its pid to
``monitor.json``. :func:`running` is cheap: commands call it to decide how
``wait`` should look.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from tmux_codex.core.errors import NotPossible
from tmux_codex.core.models import now
from tmux_codex.core.paths import (
    ensure_dir,
    monitor_info,
    monitor_lock,
    monitor_vouch,
    read_regular,
)


class MonitorRunning(NotPossible):
    """Another monitor holds the lock of this state directory."""


def running(home: Path) -> dict[str, Any] | None:
    """The running monitor of ``home`` (``pid``, ``started_at``, ...), or None."""
    path = monitor_lock(home)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: a monitor runs
        else:
            return None
    finally:
        os.close(fd)
    raw = read_regular(monitor_info(home), 1 << 16)
    try:
        info: Any = None if raw is None else json.loads(raw)
    except (ValueError, RecursionError):
        info = None
    found: dict[str, Any] = info if isinstance(info, dict) else {"pid": None}
    found["running"] = True
    return found


class Lock:
    """The monitor's lock: an ``flock`` held for its whole life; the kernel drops it on death."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.fd = -1
        self.token = ""

    def acquire(self) -> None:
        ensure_dir(self.home)
        fd = os.open(monitor_lock(self.home), os.O_RDWR | os.O_CREAT, 0o600)
        # A read command asking whether a monitor runs holds the lock shared for a
        # moment: only a lock still held after a few tries is another monitor's.
        for pause in (0.01, 0.02, 0.05, 0.1, 0.2, None):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if pause is not None:
                    time.sleep(pause)
        else:
            os.close(fd)
            other = running(self.home) or {}
            raise MonitorRunning(
                f"a monitor already runs for {self.home} (pid {other.get('pid')}); "
                "'tmux-codex monitor --stop' stops it"
            ) from None
        self.fd = fd
        # A monitor killed before it could take back its word left it: it is void.
        with contextlib.suppress(OSError):
            monitor_vouch(self.home).unlink()
        #: Names this run: what the monitor writes is told from a dead one's by it.
        self.token = os.urandom(8).hex()
        info = {
            "pid": os.getpid(),
            "started_at": now(),
            "home": str(self.home),
            "token": self.token,
        }
        tmp = monitor_info(self.home).with_suffix(".tmp")
        fd_info = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd_info, "w", encoding="utf-8") as fh:
            json.dump(info, fh)
        os.replace(tmp, monitor_info(self.home))

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                monitor_vouch(self.home).unlink()
            monitor_info(self.home).unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = -1
