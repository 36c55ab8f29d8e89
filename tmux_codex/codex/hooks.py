"""tmux-codex's own Codex hooks: their definitions, ``-c`` flags and trust.

Every task runs Codex with one command hook per lifecycle event, given with
``-c hooks.EVENT=[…]`` flags: ``python -I -m tmux_codex.codex.hook HOME TASK
EVENT``. Codex runs a hook it was not told to trust only after a person
reviews it; tmux-codex pre-seeds trust for exactly its own definitions, with
``-c hooks.state={…}`` holding the hash Codex computes for each (sha256 of
the definition as compact, key-sorted JSON). Nothing is written to the
user's ``~/.codex``, and the user's own hooks keep needing their review.

``codex app-server``'s ``hooks/list`` reports the hash Codex expects
(:func:`listed_hooks`): a test and ``doctor`` compare it with
:func:`trust_hash`, so a Codex that changes the recipe is caught before a
user sees a "Hooks need review" screen.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The events tmux-codex listens to (Codex's names).
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "Stop",
    "Interrupt",
    "SessionEnd",
)
#: Seconds Codex gives a hook before it kills it (then it draws its own prompt).
TIMEOUT = 5
#: Where Codex says hooks given with ``-c`` come from (the first part of a trust key).
SESSION_SOURCE = "/<session-flags>/config.toml"


def snake(event: str) -> str:
    """``PermissionRequest`` → ``permission_request`` (Codex's key for an event)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


@dataclass(frozen=True)
class HookDef:
    """One command hook for one event, as tmux-codex gives it to Codex."""

    event: str
    command: str
    timeout: int = TIMEOUT

    @property
    def key(self) -> str:
        """Codex's trust key: ``<source>:<event>:<group>:<handler>``."""
        return f"{SESSION_SOURCE}:{snake(self.event)}:0:0"

    def handler(self) -> dict[str, Any]:
        return {"type": "command", "command": self.command, "timeout": self.timeout}

    def flag(self) -> str:
        """The ``-c`` value that defines it: ``hooks.EVENT=[{hooks=[{…}]}]``."""
        return f"hooks.{self.event}=[{{hooks=[{_toml_inline(self.handler())}]}}]"


def trust_hash(hook: HookDef) -> str:
    """The hash Codex keeps for a trusted hook: sha256 of its definition as compact JSON."""
    definition = {
        "event_name": snake(hook.event),
        "hooks": [{"async": False, **hook.handler()}],
    }
    data = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()


def hook_command(home: Path, task_id: int, event: str, python: str | None = None) -> str:
    """The shell command Codex runs for ``event``: this Python, isolated (``-I``).

    ``-I`` keeps the task's workdir (the hook's cwd, which the model can write
    to) off ``sys.path``: a ``json.py`` there must not run inside the hook.
    """
    argv = [
        python or sys.executable,
        "-I",
        "-m",
        "tmux_codex.codex.hook",
        str(home),
        str(task_id),
        event,
    ]
    return shlex.join(argv)


#: Codex caps these events' timeouts at 3 s (and hashes the capped value).
_TIMEOUTS = {"SessionEnd": 3, "Interrupt": 3}


def definitions(home: Path, task_id: int, python: str | None = None) -> list[HookDef]:
    return [
        HookDef(event, hook_command(home, task_id, event, python), _TIMEOUTS.get(event, TIMEOUT))
        for event in EVENTS
    ]


def codex_flags(hooks: Sequence[HookDef]) -> list[str]:
    """``-c`` arguments that define ``hooks`` and trust exactly them."""
    flags: list[str] = []
    for hook in hooks:
        flags += ["-c", hook.flag()]
    state = ", ".join(
        f"{_toml_str(hook.key)}={{trusted_hash={_toml_str(trust_hash(hook))}}}" for hook in hooks
    )
    return [*flags, "-c", f"hooks.state={{{state}}}"]


def _toml_str(value: str) -> str:
    # A JSON string (ASCII-escaped) is a valid TOML basic string.
    return json.dumps(value)


def _toml_inline(table: dict[str, Any]) -> str:
    parts = []
    for key, value in table.items():
        text = str(value) if isinstance(value, int) else _toml_str(str(value))
        parts.append(f"{key}={text}")
    return "{" + ",".join(parts) + "}"


# -- asking Codex -----------------------------------------------------------------


class AppServerError(Exception):
    """``codex app-server`` did not answer ``hooks/list``."""


def listed_hooks(
    codex: str, flags: Sequence[str], cwd: Path, env: dict[str, str], timeout: float = 30.0
) -> list[dict[str, Any]]:
    """What ``codex app-server`` (run with ``flags``) reports of hooks: key, hash, trust.

    JSON-RPC over stdio, one object a line: ``initialize`` (required), then
    ``hooks/list`` for ``cwd``. It needs no model and no login, and writes no config.
    """
    proc = subprocess.Popen(
        [codex, *flags, "app-server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    deadline = time.monotonic() + timeout
    pending = b""

    def send(message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()

    def reply(request_id: int) -> Any:
        nonlocal pending
        assert proc.stdout is not None
        while True:
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict) and message.get("id") == request_id:
                    if "error" in message:
                        raise AppServerError(f"codex app-server: {message['error']}")
                    return message.get("result")
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                raise AppServerError(f"codex app-server did not answer in {timeout:g}s")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise AppServerError("codex app-server exited without answering")
            pending += chunk

    try:
        send({"id": 1, "method": "initialize", "params": {"clientInfo": _CLIENT}})
        reply(1)
        send({"method": "initialized"})
        send({"id": 2, "method": "hooks/list", "params": {"cwds": [str(cwd)]}})
        return _hooks_of(reply(2))
    except OSError as exc:
        raise AppServerError(f"codex app-server: {exc}") from None
    finally:
        proc.kill()
        proc.wait()


_CLIENT = {"name": "tmux-codex", "version": "0"}


def _hooks_of(result: object) -> list[dict[str, Any]]:
    """Every hook entry in a ``hooks/list`` result, wherever it is nested."""
    found: list[dict[str, Any]] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if "currentHash" in value or "trustStatus" in value:
                found.append(value)
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(result)
    return found
