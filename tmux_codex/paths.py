"""Where tmux-codex keeps its state and finds its config."""

from __future__ import annotations

import os
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
    """Create ``path`` (and parents) private to the user: mode 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def db_path(home: Path) -> Path:
    return home / "tasks.db"


def logs_dir(home: Path) -> Path:
    return home / "logs"


def env_path(home: Path, task_id: int) -> Path:
    """Where ``start`` leaves a task's environment for its shim (read once, then removed)."""
    return home / "env" / f"{task_id}.json"


def log_path(home: Path, task_id: int) -> Path:
    return logs_dir(home) / f"{task_id}.log"
