"""The monitor as a daemon: started detached and stopped, found through its lock."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tmux_codex.core.errors import NotPossible
from tmux_codex.core.lock import running
from tmux_codex.core.paths import ensure_dir, monitor_lock, monitor_log


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
