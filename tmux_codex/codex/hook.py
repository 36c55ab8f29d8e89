"""tmux-codex's Codex hook: ``python -I -m tmux_codex.codex.hook HOME TASK_ID EVENT``.

Codex runs it for each lifecycle event with the event's JSON on stdin (see
CODEX.md, "Hooks"). It records a signal on the task (what happened, when),
wakes the monitor, and:

- SessionStart: the session id, at once;
- PermissionRequest: the complete command (or patch) Codex is about to ask
  about. The command allowlist decides on it (:func:`policy.on_command`):
  approved, the hook answers ``allow`` itself and records an event
  ``by: "policy"``; otherwise the task is ``waiting`` (``approval`` or
  ``edit``) with the whole request as its ``prompt_text``, before Codex
  draws its prompt, and the hook stays quiet so the prompt comes up for a
  person;
- Stop: the turn's last message (``notify`` stays the fallback);
- UserPromptSubmit, PostToolUse, SessionEnd: a request pending is over.

It never disturbs Codex: any error, a full disk or a locked store makes it
quiet (exit 0, no output), and then a person decides. Codex kills it after
:data:`hooks.TIMEOUT` seconds, which is the same.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: At most this much of the event's JSON is read (a patch may be large).
MAX_INPUT = 16 << 20
#: A hook must answer well within Codex's timeout: the store is not waited on longer.
STORE_WAIT_MS = 3000
ALLOW = {
    "hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}
}


def request_prompt(tool: str, command: str, description: str | None) -> tuple[str, str]:
    """``(reason, prompt_text)`` of a permission request, in the shape of Codex's own prompt."""
    if tool == "apply_patch":
        return "edit", f"Would you like to make the following edits?\n{command}"
    lines = ["Would you like to run the following command?"]
    if description:
        lines.append(f"Reason: {description}")
    lines.append(f"$ {command}")
    return "approval", "\n".join(lines)


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) else None


def handle(home: Path, task_id: int, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Record what the event says; the JSON to answer Codex with, or None (quiet)."""
    from tmux_codex.codex import pending
    from tmux_codex.core.models import now
    from tmux_codex.core.store import Store

    with Store(home, busy_ms=STORE_WAIT_MS) as store:
        task = store.get(task_id)
        if task is None or task.final:
            return None
        tool = _text(payload, "tool_name")
        stamp = now()
        fields: dict[str, Any] = {
            "hook_at": stamp,
            "hook_event": f"{event}:{tool}" if tool and event == "PreToolUse" else event,
        }
        session = _text(payload, "session_id")
        if session and not task.codex_session_id:
            fields["codex_session_id"] = session
        if event == "Stop":
            message = _text(payload, "last_assistant_message")
            if message is not None:
                fields["last_message"] = message
            tokens = _tokens(task.codex_home, session or task.codex_session_id)
            if tokens is not None:
                fields["tokens"] = tokens
        tool_input = payload.get("tool_input")
        tool_input = tool_input if isinstance(tool_input, dict) else {}
        command = tool_input.get("command")
        if event in ("UserPromptSubmit", "Stop", "Interrupt", "SessionEnd"):
            store.hook_signal(task_id, fields, requests=lambda raw: None)  # the turn is over
            return None
        if event == "PostToolUse" and isinstance(command, str):
            ran = command

            def without(raw: str | None) -> str | None:
                return pending.dump(pending.answered(pending.load(raw), ran))

            store.hook_signal(task_id, fields, requests=without)
            return None
        if event != "PermissionRequest" or not isinstance(command, str) or not tool:
            store.hook_signal(task_id, fields)
            return None  # PermissionRequest with nothing to decide on: Codex's prompt decides
        description = tool_input.get("description")
        reason, prompt = request_prompt(
            tool, command, description if isinstance(description, str) else None
        )
        decision = _decide(tool, command)
        if decision is not None and decision.choice == "yes":
            store.hook_signal(task_id, fields)
            store.audit(
                task_id,
                f"approved ({decision.rule}): by the PermissionRequest hook\n{prompt}",
                by="policy",
            )
            return ALLOW
        request = pending.Request(reason=reason, prompt=prompt, command=command, at=stamp)

        def added(raw: str | None) -> str | None:
            return pending.dump([*pending.load(raw), request])

        recorded = store.hook_signal(task_id, fields, requests=added, waiting=(reason, prompt))
        if recorded and decision is not None:
            store.audit(task_id, f"{decision.detail} ({decision.rule})\n{prompt}", by="policy")
        return None


def _tokens(codex_home: str | None, session: str | None) -> dict[str, int | None] | None:
    """The session's token totals so far, from its rollout (bounded read); None if unknown."""
    from tmux_codex.codex.sessions import task_tokens

    try:
        found = task_tokens(codex_home, session)
    except Exception:  # a hook must stay quiet whatever it meets
        return None
    return found.brief() if found is not None else None


def _decide(tool: str, command: str) -> Any:
    """The allowlist's decision with the task's config; None when off or unreadable."""
    from tmux_codex.core.config import load
    from tmux_codex.core.paths import config_path
    from tmux_codex.policy.rules import on_command

    try:
        config = load(config_path())
    except Exception:
        return None  # a broken config approves nothing
    return on_command(tool, command, config.policy, utf8=_utf8_locale(os.environ))


def _utf8_locale(env: Mapping[str, str]) -> bool:
    """Whether commands run in a UTF-8 or C locale (the one bash gets: Codex's, ours)."""
    value = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or "C"
    value = value.lower().replace("-", "")
    return value in ("c", "posix") or value.startswith("c.") or "utf8" in value


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    answer: dict[str, Any] | None = None
    try:
        home, task_id, event = Path(args[0]), int(args[1]), args[2]
        raw = sys.stdin.buffer.read(MAX_INPUT + 1)
        if len(raw) > MAX_INPUT:
            return 0
        payload = json.loads(raw)
        if isinstance(payload, dict):
            answer = handle(home, task_id, event, payload)
        from tmux_codex.core.wake import wake

        wake(home, task_id)
    except Exception:  # never disturb Codex: quiet means a person decides
        if os.environ.get("TMUX_CODEX_DEBUG"):
            raise
        return 0
    if answer is not None:
        sys.stdout.write(json.dumps(answer))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
