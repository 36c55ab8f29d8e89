"""What the notifications say: window marks, the one-line message, the command's JSON.

Pure: no tmux call, no thread. :mod:`tmux_codex.monitor.notify` delivers
what these functions make to the sinks ``[notify]`` turns on.
"""

from __future__ import annotations

import re
from typing import Any

from tmux_codex.core.models import Event, Task

#: States a task ends in: with ``[notify] report`` the command gets the task's report.
ENDED_STATES = frozenset({"done", "failed", "killed", "lost"})
#: States worth telling the user about (the window mark changes on every state).
NOTIFY_STATES = frozenset({"waiting", "stalled", "idle", "done", "failed", "lost"})
#: The mark before a task's window name, by state.
WINDOW_MARKS: dict[str, str] = {
    "starting": "~",
    "working": "~",
    "waiting": "!",
    "stalled": "…",
    "idle": "·",
    "done": "✓",
    "failed": "✗",
    "killed": "✗",
    "lost": "?",
}
#: Characters of an event's detail a message shows at most.
DETAIL_LIMIT = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def window_name(task_name: str, state: str) -> str:
    """The task's window name in ``state``: ``"! fix-tests"``, or the bare name."""
    mark = WINDOW_MARKS.get(state)
    return f"{mark} {task_name}" if mark else task_name


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` with control characters as spaces; cut to ``limit`` characters with ``…``."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    if limit is not None and len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def first_line(text: str | None) -> str:
    """The first line of ``text`` that is not blank, as :func:`one_line` (at most DETAIL_LIMIT)."""
    for line in (text or "").splitlines():
        if line.strip():
            return one_line(line, DETAIL_LIMIT)
    return ""


def headline(task: Task, event: Event) -> str:
    """``task 3 (fix-tests) waiting: approval``."""
    line = f"task {task.id} ({one_line(task.name)}) {event.to_state}"
    if event.reason:
        line += f": {one_line(event.reason)}"
    return line


def message(task: Task, event: Event) -> str:
    """The one-line notification: ``tmux-codex: task 3 (fix-tests) waiting: approval — echo hi``."""
    line = f"tmux-codex: {headline(task, event)}"
    detail = first_line(event.detail)
    return f"{line} — {detail}" if detail else line


def event_payload(task: Task, event: Event) -> dict[str, Any]:
    """The JSON the notify command reads: the event plus what identifies its task."""
    payload = event.to_dict()
    payload.update(name=task.name, workdir=task.workdir, window_id=task.window_id, mode=task.mode)
    return payload


__all__ = [
    "DETAIL_LIMIT",
    "ENDED_STATES",
    "NOTIFY_STATES",
    "WINDOW_MARKS",
    "event_payload",
    "first_line",
    "headline",
    "message",
    "one_line",
    "window_name",
]
