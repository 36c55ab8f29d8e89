"""Scripted replies of the fake model server.

A scenario is a pure function of the request: it gets the step (how many tool
outputs follow the latest user message) and returns what to answer. Nothing is
remembered between requests, so a scenario plays the same across a resumed
session, a follow-up message and a restart of the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tmux_codex.sim.replies import USAGE as USAGE
from tmux_codex.sim.replies import Event as Event
from tmux_codex.sim.replies import HttpError as HttpError
from tmux_codex.sim.replies import NoHeaders as NoHeaders
from tmux_codex.sim.replies import Reply as Reply
from tmux_codex.sim.replies import Request as Request
from tmux_codex.sim.replies import Stream as Stream
from tmux_codex.sim.replies import (
    answer,
    call,
    completed,
    created,
    function_call,
    message_added,
    message_done,
    text_delta,
)

#: What a request's latest user message may carry to choose a scenario.
TAG_RE = re.compile(r"\[scenario:([a-z0-9-]+)\]")


# --------------------------------------------------------------------------
# Texts the scenarios use; tests and fixtures refer to them.

COMPLETE_TEXT = "All done: the fake model finished this task."
APPROVAL_EXEC_CMD = "echo approved-command-ran > approval-exec.txt"
APPROVAL_EXEC_DONE = "The approved command ran and wrote approval-exec.txt."
PATCH_FILE = "approval-patch.txt"
PATCH_BODY = "written through an approved edit"
APPROVAL_PATCH_DONE = "The edit was applied to approval-patch.txt."
MAKE_FILE_NAME = "made-by-codex.txt"
MAKE_FILE_CMD = f"echo made-by-codex > {MAKE_FILE_NAME}"
MAKE_FILE_DONE = f"Wrote {MAKE_FILE_NAME} in the working directory."
SLOW_STREAM_WORDS = 40
SLOW_STREAM_SECONDS = 10.0
SLOW_STREAM_DONE = "slow stream finished."
SLOW_EXEC_CMD = "sleep 8 && echo slow-exec-finished"
SLOW_EXEC_DONE = "The slow command finished."
RUN_DONE = "Ran the commands you gave me."
LOOP_CMD = "echo still trying the very same thing"
LOOP_STEPS = 12
LOOP_DONE = "Gave up after trying the same thing over and over."
QUESTION_TEXT = "Which database should the fake project use?"
QUESTION_DONE = "Thanks, I will use the answer you picked."


def _rid(req: Request, scenario: str) -> str:
    return f"resp-{scenario}-{req.step}"


def complete(req: Request) -> Reply:
    return answer(_rid(req, "complete"), COMPLETE_TEXT)


def approval_exec(req: Request) -> Reply:
    rid = _rid(req, "approval-exec")
    if req.step == 0:
        return call(
            rid,
            "exec_command",
            {
                "cmd": APPROVAL_EXEC_CMD,
                "login": False,
                "sandbox_permissions": "require_escalated",
                "justification": "The fake model needs to write approval-exec.txt.",
            },
        )
    return answer(rid, APPROVAL_EXEC_DONE)


def approval_patch(req: Request) -> Reply:
    rid = _rid(req, "approval-patch")
    if req.step == 0:
        patch = (
            "apply_patch <<'EOF'\n"
            "*** Begin Patch\n"
            f"*** Add File: {PATCH_FILE}\n"
            f"+{PATCH_BODY}\n"
            "*** End Patch\n"
            "EOF\n"
        )
        return call(rid, "exec_command", {"cmd": patch})
    return answer(rid, APPROVAL_PATCH_DONE)


def make_file(req: Request) -> Reply:
    rid = _rid(req, "make-file")
    if req.step == 0:
        return call(rid, "exec_command", {"cmd": MAKE_FILE_CMD, "login": False})
    return answer(rid, MAKE_FILE_DONE)


def slow_stream(req: Request) -> Reply:
    rid = _rid(req, "slow-stream")
    item = f"msg-{rid}"
    words = [f"word{i}" for i in range(1, SLOW_STREAM_WORDS + 1)] + [SLOW_STREAM_DONE]
    pause = SLOW_STREAM_SECONDS / len(words)
    events: list[tuple[float, Event]] = [(0.0, created(rid)), (0.0, message_added(item))]
    events += [(pause, text_delta(item, w + " ")) for w in words]
    events += [(0.0, message_done(item, " ".join(words) + " ")), (0.0, completed(rid))]
    return Stream(tuple(events))


def slow_exec(req: Request) -> Reply:
    rid = _rid(req, "slow-exec")
    if req.step == 0:
        return call(
            rid, "exec_command", {"cmd": SLOW_EXEC_CMD, "login": False, "yield_time_ms": 20000}
        )
    return answer(rid, SLOW_EXEC_DONE)


def ask_user(req: Request) -> Reply:
    rid = _rid(req, "ask-user")
    if req.step == 0:
        return call(
            rid,
            "request_user_input",
            {
                "questions": [
                    {
                        "id": "database",
                        "header": "Database",
                        "question": QUESTION_TEXT,
                        "options": [
                            {
                                "label": "SQLite (Recommended)",
                                "description": "One file, no server.",
                            },
                            {"label": "PostgreSQL", "description": "A server to run."},
                        ],
                    }
                ]
            },
        )
    return answer(rid, QUESTION_DONE)


def http_500(req: Request) -> Reply:
    return HttpError(500, "The fake model server failed (scenario http-500).")


def http_400(req: Request) -> Reply:
    return HttpError(
        400,
        "The fake model server rejected the request (scenario http-400).",
        code="invalid_request_error",
    )


def close(req: Request) -> Reply:
    rid = _rid(req, "close")
    item = f"msg-{rid}"
    return Stream(
        ((0.0, created(rid)), (0.0, message_added(item)), (0.2, text_delta(item, "Starting to "))),
        then="close",
    )


def hang(req: Request) -> Reply:
    return Stream(((0.0, created(_rid(req, "hang"))),), then="hang")


def hang_headers(req: Request) -> Reply:
    return NoHeaders()


def run(req: Request) -> Reply:
    """Run each ``$ command`` line of the user's message, in order, then say so."""
    rid = _rid(req, "run")
    commands = [line[2:] for line in req.user_text.splitlines() if line.startswith("$ ")]
    if req.step < len(commands):
        return call(rid, "exec_command", {"cmd": commands[req.step], "login": False})
    return answer(rid, RUN_DONE)


ESCALATE_DONE = "The escalated command was answered."


def escalate(req: Request) -> Reply:
    """Ask to run, outside the sandbox, the command the user's message gives as JSON.

    The message holds ``{"cmd": "...", "justification": "..."}`` after the tag,
    so a test can put any bytes (newlines, quotes, 40 lines) in the command the
    approval prompt is about, and any reason text above it; ``{"cmds": [...]}``
    asks about several at once (tool calls of one response).
    """
    rid = _rid(req, "escalate")
    text = req.user_text
    try:
        spec = json.loads(text[text.index("{") : text.rindex("}") + 1])
        cmds = [str(c) for c in spec["cmds"]] if "cmds" in spec else [str(spec["cmd"])]
        why = str(spec.get("justification", "The test asks for it."))
    except (ValueError, KeyError, TypeError):
        return answer(rid, 'escalate needs {"cmd": ...} or {"cmds": [...]} after its tag')
    if req.step == 0:
        # Several commands: several tool calls in one response (Codex asks about each).
        events: list[tuple[float, Event]] = [(0.0, created(rid))]
        for index, cmd in enumerate(cmds):
            arguments = {
                "cmd": cmd,
                "login": False,
                "sandbox_permissions": "require_escalated",
                "justification": why,
            }
            events.append((0.0, function_call(f"call-{rid}-{index}", "exec_command", arguments)))
        events.append((0.0, completed(rid)))
        return Stream(tuple(events))
    return answer(rid, ESCALATE_DONE)


def loop(req: Request) -> Reply:
    """A stuck model: the same command, over and over, then it gives up."""
    rid = _rid(req, "loop")
    if req.step < LOOP_STEPS:
        return call(rid, "exec_command", {"cmd": LOOP_CMD, "login": False})
    return answer(rid, LOOP_DONE)


SCENARIOS: dict[str, Callable[[Request], Reply]] = {
    "complete": complete,
    "approval-exec": approval_exec,
    "approval-patch": approval_patch,
    "make-file": make_file,
    "slow-stream": slow_stream,
    "slow-exec": slow_exec,
    "ask-user": ask_user,
    "http-500": http_500,
    "http-400": http_400,
    "close": close,
    "hang": hang,
    "hang-headers": hang_headers,
    "loop": loop,
    "run": run,
    "escalate": escalate,
}


# --------------------------------------------------------------------------
# Reading a request.


def _text_of(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def latest_user_index(items: list[Any]) -> int:
    """Index of the latest user message in ``input``, or -1."""
    for i in range(len(items) - 1, -1, -1):
        item = items[i]
        if (
            isinstance(item, dict)
            and item.get("type", "message") == "message"
            and item.get("role") == "user"
        ):
            return i
    return -1


def parse(body: dict[str, Any]) -> Request:
    items = body.get("input")
    if not isinstance(items, list):
        items = []
    last = latest_user_index(items)
    user_text = _text_of(items[last]) if last >= 0 else ""
    step = sum(
        1
        for item in items[last + 1 :]
        if isinstance(item, dict)
        and item.get("type") in ("function_call_output", "custom_tool_call_output")
    )
    return Request(step=step, user_text=user_text, body=body)


def scenario_of(req: Request, default: str) -> str:
    """The scenario named by the latest user message's tag, else ``default``."""
    found = TAG_RE.findall(req.user_text)
    if found and found[-1] in SCENARIOS:
        return str(found[-1])
    return default


def is_title_request(body: dict[str, Any]) -> bool:
    """Whether this is the TUI's side request for a thread title."""
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    schema = fmt.get("schema") if isinstance(fmt, dict) else None
    props = schema.get("properties") if isinstance(schema, dict) else None
    return isinstance(props, dict) and "title" in props


def title_reply(req: Request, scenario: str) -> Reply:
    title = json.dumps({"title": f"Fake {scenario} task"})
    return answer(f"resp-title-{scenario}", title)
