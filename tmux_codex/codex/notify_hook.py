"""Codex's ``notify`` program: ``python -m tmux_codex.codex.notify_hook HOME TASK_ID JSON``.

Codex calls it after every completed turn with a JSON payload; it records the
session id and the last agent message on the task. It never fails loudly:
Codex must not be disturbed by its supervisor.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tmux_codex.core.store import Store
from tmux_codex.core.wake import wake

TITLE_REQUEST = "Generate a concise, single-line task title"


def record(home: Path, task_id: int, payload: dict[str, object]) -> bool:
    """Store what a turn-complete payload tells; False when it was ignored."""
    if payload.get("type") != "agent-turn-complete":
        return False
    inputs = payload.get("input-messages")
    if isinstance(inputs, list) and inputs and str(inputs[0]).startswith(TITLE_REQUEST):
        return False
    fields: dict[str, object] = {}
    thread = payload.get("thread-id")
    if isinstance(thread, str) and thread:
        fields["codex_session_id"] = thread
    message = payload.get("last-assistant-message")
    if isinstance(message, str):
        fields["last_message"] = message
    if not fields:
        return False
    with Store(home) as store:
        task = store.get(task_id)
        if task is None:
            return False
        known = task.codex_session_id
        if known and "codex_session_id" in fields and fields["codex_session_id"] != known:
            store.audit(task_id, f"Codex runs session {fields['codex_session_id']}, not {known}")
        store.update(task_id, **fields)
    wake(home, task_id)
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        home, task_id, raw = Path(args[0]), int(args[1]), args[-1]
        payload = json.loads(raw)
        if isinstance(payload, dict):
            record(home, task_id, payload)
    except Exception:  # never disturb Codex
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
