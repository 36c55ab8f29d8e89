"""The monitor as a daemon: one per state directory, found, started and stopped.

The running monitor holds an ``flock`` on ``monitor.lock`` for its whole
life (the kernel drops it however the process dies) and writes its pid to
``monitor.json``. These functions are cheap: the CLI calls :func:`running` to
decide how ``wait`` should look.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tmux_codex.errors import NotPossible
from tmux_codex.models import now
from tmux_codex.paths import ensure_dir, monitor_info, monitor_lock, monitor_log


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
    try:
        info: dict[str, Any] = json.loads(monitor_info(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {"pid": None}
    info["running"] = True
    return info


class Lock:
    """The monitor's lock: an ``flock`` held for its whole life; the kernel drops it on death."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.fd = -1

    def acquire(self) -> None:
        ensure_dir(self.home)
        fd = os.open(monitor_lock(self.home), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = running(self.home) or {}
            raise MonitorRunning(
                f"a monitor already runs for {self.home} (pid {other.get('pid')}); "
                "'tmux-codex monitor --stop' stops it"
            ) from None
        self.fd = fd
        info = {"pid": os.getpid(), "started_at": now(), "home": str(self.home)}
        tmp = monitor_info(self.home).with_suffix(".tmp")
        fd_info = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd_info, "w", encoding="utf-8") as fh:
            json.dump(info, fh)
        os.replace(tmp, monitor_info(self.home))

    def release(self) -> None:
        if self.fd >= 0:
            monitor_info(self.home).unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = -1


def spawn(home: Path, timeout: float = 30.0) -> int | None:
    """Start a detached monitor for ``home`` unless one runs; its pid.

    The monitor runs in a session of its own (no terminal: closing the one
    that started it does not stop it), from ``/``, printing to
    ``monitor.log``. Returns once it holds its lock, or None when it could not
    start (what it printed is in ``monitor.log``).
    """
    info = running(home)
    if info is not None:
        return int(info["pid"]) if info.get("pid") else None
    ensure_dir(home)
    log_fd = os.open(monitor_log(home), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tmux_codex", "monitor"],
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            cwd="/",
            env={**os.environ, "TMUX_CODEX_HOME": str(home)},
            start_new_session=True,
        )
    finally:
        os.close(log_fd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = running(home)
        if info is not None and info.get("pid"):
            return int(info["pid"])
        if proc.poll() is not None:
            info = running(home)  # it lost a race to another monitor: fine
            return int(info["pid"]) if info and info.get("pid") else None
        time.sleep(0.01)
    return None


def stop(home: Path, timeout: float = 10.0) -> dict[str, Any] | None:
    """Stop the monitor of ``home`` (SIGTERM, then SIGKILL); what ran, or None."""
    info = running(home)
    if info is None:
        return None
    pid = info.get("pid")
    if not pid:
        raise NotPossible(f"a monitor holds {monitor_lock(home)} but its pid is unknown")
    with contextlib.suppress(ProcessLookupError):
        os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running(home) is not None:
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.02)
    return info
