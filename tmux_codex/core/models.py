"""Tasks, states and events; ``to_dict()`` is the JSON the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

STATES = (
    "queued",
    "starting",
    "working",
    "waiting",
    "idle",
    "stalled",
    "done",
    "failed",
    "killed",
    "lost",
)
#: States a task never leaves by itself (only ``resume`` starts it again).
FINAL_STATES = frozenset({"done", "failed", "killed", "lost"})
#: States of a task whose Codex process should be alive.
LIVE_STATES = frozenset(STATES) - FINAL_STATES
REASONS = ("approval", "edit", "trust", "question", "menu", "unknown")
MODES = ("exec", "tui")


#: How the store writes times.
STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> str:
    """The current time, UTC ISO-8601 with a ``Z``."""
    return datetime.now(timezone.utc).strftime(STAMP)


def parse_stamp(stamp: str | None) -> datetime | None:
    """A stored time as an aware datetime; None if missing or not one."""
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp, STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def age(stamp: str | None, at: datetime | None = None) -> str:
    """``12s``, ``5m``, ``3h``, ``2d``: how long before ``at`` (now) ``stamp`` was, or '-'."""
    then = parse_stamp(stamp)
    if then is None:
        return "-"
    seconds = max(int(((at or datetime.now(timezone.utc)) - then).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass
class Task:
    id: int
    name: str
    state: str
    mode: str
    workdir: str
    argv: list[str]
    created_at: str
    updated_at: str
    log_path: str
    reason: str | None = None
    prompt_text: str | None = None
    last_output_at: str | None = None
    exit_code: int | None = None
    codex_session_id: str | None = None
    window_id: str | None = None
    pane_id: str | None = None
    attempt: int = 1
    start_commit: str | None = None
    last_message: str | None = None
    error: str | None = None
    tmux_socket: str = ""
    tmux_session: str = "codex"
    width: int = 0
    height: int = 0
    shim_pid: int | None = None
    codex_home: str | None = None
    prompt: str | None = None  # the prompt it was started with
    hook_at: str | None = None  # when one of its Codex hooks last spoke (None: none ever did)
    hook_event: str | None = None  # which (``PreToolUse:Bash``, ``Stop``, …)
    hook_request: str | None = None  # JSON: the permission request pending, from the hook
    codex_version: str | None = None  # ``codex --version`` of its binary when it (re)started
    worktree: dict[str, str] | None = None  # repo, path, branch, base, base_commit (--worktree)
    after: list[int] = field(default_factory=list)  # ids it waits for, queued (--after)
    tokens: dict[str, int | None] | None = None  # input, output, total; None while unknown

    @property
    def hooks(self) -> bool:
        """Whether tmux-codex's Codex hooks run for this task (one has spoken)."""
        return self.hook_at is not None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def label(self) -> str:
        """``state`` or ``state:reason`` (``waiting:approval``)."""
        return f"{self.state}:{self.reason}" if self.reason else self.state

    def to_dict(self) -> dict[str, Any]:
        """The task as the contract's JSON object."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "reason": self.reason,
            "prompt_text": self.prompt_text,
            "mode": self.mode,
            "workdir": self.workdir,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_output_at": self.last_output_at,
            "exit_code": self.exit_code,
            "codex_session_id": self.codex_session_id,
            "window_id": self.window_id,
            "pane_id": self.pane_id,
            "log_path": self.log_path,
            "attempt": self.attempt,
            "start_commit": self.start_commit,
            "last_message": self.last_message,
            "error": self.error,
            "worktree": self.worktree,
            "after": self.after,
            "tokens": self.tokens,
        }


@dataclass
class Event:
    task: int
    at: str
    from_state: str | None
    to_state: str
    reason: str | None = None
    detail: str | None = None
    by: str = "monitor"
    id: int = 0

    @property
    def label(self) -> str:
        """The state it went to, ``state`` or ``state:reason``."""
        return f"{self.to_state}:{self.reason}" if self.reason else self.to_state

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "at": self.at,
            "from": self.from_state,
            "to": self.to_state,
            "reason": self.reason,
            "detail": self.detail,
            "by": self.by,
        }
