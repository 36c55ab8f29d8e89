"""Wake the monitor about one task: touch ``wake/<id>`` under the state directory.

The monitor watches that directory (and ``logs/``) with watchdog, so a
process that changed a task behind its back (the shim recording Codex's exit,
Codex's notify hook, a CLI command) tells it by appending one byte there. With
no monitor running this costs a file write and nothing else; it never fails.

The file only grows: its size counts the wakes (:func:`wakes`), so a reader
can tell whether the monitor was woken about a task after it last looked
(see :mod:`tmux_codex.tasks.vouch`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tmux_codex.core.paths import wake_dir


def wake(home: Path, task_id: int) -> None:
    """Tell the monitor of ``home`` to look at task ``task_id`` now."""
    with contextlib.suppress(OSError):
        folder = wake_dir(home)
        if not folder.is_dir():
            folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(
            folder / str(task_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
        )
        try:
            os.write(fd, b"1")
        finally:
            os.close(fd)


def wakes(home: Path, task_id: int) -> int:
    """How many times the monitor was woken about ``task_id`` (0: never, or unreadable)."""
    try:
        return os.stat(wake_dir(home) / str(task_id)).st_size
    except OSError:
        return 0
