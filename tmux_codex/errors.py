"""Errors tmux-codex reports to its user: one line each, with an exit code.

Exit codes follow the contract: 1 the operation failed (unknown task, nothing
to approve, a timeout), 2 bad usage or bad input (click's convention).
"""

from __future__ import annotations


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
