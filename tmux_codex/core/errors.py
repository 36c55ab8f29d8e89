"""Errors tmux-codex reports to its user: one line each, with an exit code.

Exit codes follow the contract: 1 the operation failed (unknown task, nothing
to approve, a timeout), 2 bad usage or bad input (click's convention).
"""

from __future__ import annotations

import errno
import sqlite3


class TmuxCodexError(Exception):
    """An error with a message meant for the user and an exit code."""

    exit_code = 1


class BadInput(TmuxCodexError):
    """The user gave something unusable: a missing workdir, an empty prompt."""

    exit_code = 2


class ConfigError(BadInput):
    """The config file is unreadable or invalid."""


class TaskNotFound(TmuxCodexError):
    """No task matches what the user named."""


class NotPossible(TmuxCodexError):
    """The task is not in a state where the operation makes sense."""


class CodexNotFound(TmuxCodexError):
    """The codex command is not installed."""


class TmuxUnavailable(TmuxCodexError):
    """tmux is missing, too old, or its server did not answer."""


class DiskFull(TmuxCodexError):
    """The disk that holds the state directory (store, logs) has no space left."""

    def __init__(self, where: object, cause: BaseException | str) -> None:
        reason = cause if isinstance(cause, str) else _reason(cause)
        super().__init__(
            f"the state directory's disk is full ({where}: {reason}): free space and retry"
        )


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error means the disk (or the user's quota) is full."""
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
