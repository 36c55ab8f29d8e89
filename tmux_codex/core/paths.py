"""Where tmux-codex keeps its state and finds its config."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def state_home() -> Path:
    """The state directory (``TMUX_CODEX_HOME``); not created here."""
    override = os.environ.get("TMUX_CODEX_HOME")
    if override:
        return Path(override).expanduser().absolute()
    return _xdg("XDG_STATE_HOME", ".local/state") / "tmux-codex"


def config_path() -> Path:
    """The config file (``TMUX_CODEX_CONFIG``); it need not exist."""
    override = os.environ.get("TMUX_CODEX_CONFIG")
    if override:
        return Path(override).expanduser().absolute()
    return _xdg("XDG_CONFIG_HOME", ".config") / "tmux-codex" / "config.toml"


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) private to the user (0700), or check an existing one.

    An existing directory is never changed: one that another user owns, or that
    others may write to, is refused with ``UnsafeDirectory``.
    """
    with contextlib.suppress(FileExistsError):
        path.mkdir(parents=True, mode=0o700)
    info = path.stat()

    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(f"{path} is not a directory")
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise UnsafeDirectory(
            f"{path} is shared (owner uid {info.st_uid}, mode {info.st_mode & 0o7777:o}): "
            "tmux-codex keeps logs and its store only in a private directory"
        )
    return path


class UnsafeDirectory(Exception):
    """A state directory that is not private to the user."""


def db_path(home: Path) -> Path:
    return home / "tasks.db"


def logs_dir(home: Path) -> Path:
    return home / "logs"


def worktrees_dir(home: Path) -> Path:
    """Where ``start --worktree`` makes worktrees unless ``[fleet] worktree_dir`` says."""
    return home / "worktrees"


def env_path(home: Path, task_id: int) -> Path:
    """Where ``start`` leaves a task's environment for its shim (read once, then removed)."""
    return home / "env" / f"{task_id}.json"


def prompt_path(home: Path, task_id: int) -> Path:
    """Where an exec task's prompt waits for its shim, which gives it to Codex on stdin.

    Not in Codex's argv: every user of the machine can read a process's argv (``ps``).
    """
    return home / "env" / f"{task_id}.prompt"


def log_path(home: Path, task_id: int) -> Path:
    return logs_dir(home) / f"{task_id}.log"


def wake_dir(home: Path) -> Path:
    """Where the shim and Codex's notify hook touch ``<id>`` to wake the monitor."""
    return home / "wake"


def monitor_lock(home: Path) -> Path:
    """Held (``flock``) by the one monitor of ``home`` while it runs."""
    return home / "monitor.lock"


def monitor_info(home: Path) -> Path:
    """The running monitor's pid and start time (JSON)."""
    return home / "monitor.json"


def monitor_vouch(home: Path) -> Path:
    """Which tasks' stored states the running monitor vouches for (JSON; see tasks.vouch)."""
    return home / "monitor-vouch.json"


def monitor_log(home: Path) -> Path:
    """What a detached monitor prints (append-only)."""
    return home / "monitor.log"


def notified_path(home: Path) -> Path:
    """The last event the monitor handed to the notification sinks (survives restarts)."""
    return home / "monitor-notified.json"


def read_regular(path: Path, limit: int) -> bytes | None:
    """A regular file's bytes, at most ``limit`` of them; None for another kind of file
    (a FIFO would block, a link may point anywhere), a bigger one, or one unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks) if left > 0 else None


#: Less free space than this (for an ordinary user) is a full disk.
DISK_FULL_BELOW = 64 << 10


def disk_full(path: Path) -> bool:
    """Whether the filesystem holding ``path`` has (next to) no space left."""
    try:
        info = os.statvfs(path)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < DISK_FULL_BELOW


def log_stopped_detail(log: Path) -> str:
    """The event detail for a task whose log no longer receives what its pane prints."""
    try:
        size = log.stat().st_size
    except OSError:
        size = 0
    why = (
        "the state directory's disk is full"
        if disk_full(log.parent)
        else "tmux's pipe into it ended"
    )
    return (
        f"its log stopped at {size} bytes ({why}): what the pane printed after that is not in {log}"
    )
