"""Why a task failed: the error Codex printed in its log, or put in an API's error body.

:func:`log_error` finds the last error a log shows (``codex exec``'s
``ERROR: …`` line, the TUI's ``■ …`` cell), joining lines the terminal
wrapped; :func:`error_message` unwraps the JSON body an API error came in.
"""

from __future__ import annotations

import json
import re

__all__ = ["error_message", "log_error"]


#: ``codex exec``'s error line, and the TUI's error cell (``■ …``).
_EXEC_ERROR = re.compile(r"^ERROR:\s*(?P<text>.*)$")
_TUI_ERROR = re.compile(r"^■\s*(?P<text>.*)$")
#: The TUI's divider after a turn: an error above it belongs to an earlier turn.
_TURN_DONE = re.compile(r"^\s*─*\s*Worked for\b")
#: Continuation lines joined onto an error that was wrapped.
_MAX_ERROR_LINES = 20


def error_message(text: str) -> str:
    """The message in an error as Codex prints it.

    Codex shows an API's error body as it came, e.g. ``{"error": {"message":
    "…", "type": …}}``: its ``message`` is the error. Anything else is kept as
    it is, stripped.
    """
    text = text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if isinstance(message, str) and message.strip():
            return message.strip()
    return text


def log_error(text: str) -> str | None:
    """The last error a log shows: exec's ``ERROR: …`` line or the TUI's ``■ …``.

    A TUI error followed by a turn's ``Worked for`` divider is over (a later
    turn went on). Lines the terminal or Codex wrapped are joined again: a
    JSON body until it is whole, the TUI's cell up to its blank line.
    Returns the message (:func:`error_message`), or None.
    """
    lines = text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        exec_error = _EXEC_ERROR.match(line)
        match = exec_error or _TUI_ERROR.match(line)
        if match is None:
            continue
        rest = lines[index + 1 :]
        if exec_error is None and any(_TURN_DONE.match(later) for later in rest):
            return None
        parts = [match["text"]]
        for later in rest[:_MAX_ERROR_LINES]:
            if not later.strip() or _EXEC_ERROR.match(later) or _TUI_ERROR.match(later):
                break
            if _whole(parts) or (exec_error and not parts[0].lstrip().startswith("{")):
                break
            parts.append(later)
        return error_message(_joined(parts)) or None
    return None


def _whole(parts: list[str]) -> bool:
    """Whether the error text so far is a complete JSON body (no more lines belong to it)."""
    if not parts[0].lstrip().startswith("{"):
        return False
    return any(_parses(text) for text in ("".join(parts), " ".join(parts)))


def _joined(parts: list[str]) -> str:
    """Wrapped lines of an error joined again: without a space where that makes
    JSON whole (a hard wrap), else with one (a wrap at a space)."""
    glued = "".join(parts)
    return glued if _parses(glued) else " ".join(part.strip() for part in parts)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
