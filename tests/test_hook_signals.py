"""The hook program on its own: what each event records, the allowlist inside
PermissionRequest, and how the screen's verdict is combined with a hook's request."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tmux_codex import hook
from tmux_codex.classify import Verdict
from tmux_codex.hooks import hook_command
from tmux_codex.models import Task, now
from tmux_codex.store import StateChange, Store
from tmux_codex.tasks import with_hook_request


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config = tmp_path / "config.toml"
    config.write_text("[policy]\napprove = \"allowlist\"\nallow_commands = ['^ls\\b']\n")
    monkeypatch.setenv("TMUX_CODEX_CONFIG", str(config))
    home = tmp_path / "home"
    with Store(home) as store:
        store.add_task(
            {
                "state": "working",
                "mode": "tui",
                "workdir": str(tmp_path),
                "argv": [],
                "log_path": str(home / "logs" / "{id}.log"),
            },
            "t",
            "t",
        )
    yield home


def request(command: str, tool: str = "Bash") -> dict[str, object]:
    return {
        "session_id": "0199aaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "hook_event_name": "PermissionRequest",
        "tool_name": tool,
        "tool_input": {"command": command, "description": "the model's reason"},
    }


def task(home: Path) -> Task:
    with Store(home) as store:
        found = store.get(1)
    assert found is not None
    return found


def policy_events(home: Path) -> list[str]:
    with Store(home) as store:
        return [e.detail or "" for e in store.events(1) if e.by == "policy"]


def test_session_start_gives_the_session_id(home: Path) -> None:
    assert hook.handle(home, 1, "SessionStart", {"session_id": "abc", "source": "startup"}) is None
    found = task(home)
    assert found.codex_session_id == "abc" and found.hook_event == "SessionStart" and found.hooks


def test_an_allowed_command_is_answered_allow(home: Path) -> None:
    answer = hook.handle(home, 1, "PermissionRequest", request("ls -la"))
    assert answer == hook.ALLOW
    assert task(home).state == "working" and task(home).hook_request is None
    assert policy_events(home) == [
        "approved (allow_commands[0] '^ls\\\\b'): by the PermissionRequest hook\n"
        "Would you like to run the following command?\nReason: the model's reason\n$ ls -la"
    ]


def test_anything_else_waits_with_the_whole_command(home: Path) -> None:
    command = "ls\n" + "true\n" * 40 + "touch victim"
    assert hook.handle(home, 1, "PermissionRequest", request(command)) is None
    found = task(home)
    assert (found.state, found.reason) == ("waiting", "approval")
    assert found.prompt_text is not None and found.prompt_text.endswith("$ " + command)
    assert json.loads(found.hook_request or "")["shown"] is False
    assert "waits for a person" in policy_events(home)[0]
    # An edit: never approved by the command allowlist, whatever it holds.
    patch = "*** Begin Patch\n*** Add File: ls\n+x\n*** End Patch"
    assert hook.handle(home, 1, "PermissionRequest", request(patch, "apply_patch")) is None
    assert task(home).reason == "edit"
    assert task(home).prompt_text == f"Would you like to make the following edits?\n{patch}"
    # Stop: the request is over, the last message is kept.
    hook.handle(home, 1, "Stop", {"last_assistant_message": "done."})
    assert task(home).hook_request is None and task(home).last_message == "done."


def test_a_broken_config_approves_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = home.parent / "broken.toml"
    broken.write_text("[policy\n")
    monkeypatch.setenv("TMUX_CODEX_CONFIG", str(broken))
    assert hook.handle(home, 1, "PermissionRequest", request("ls")) is None
    assert task(home).state == "waiting" and policy_events(home) == []


def test_the_program_is_quiet_on_bad_input(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    for raw in (b"not json", b"[1]", b'{"tool_name": 3}'):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
        assert hook.main([str(home), "1", "PermissionRequest"]) == 0
    assert hook.main([str(home), "not-a-number", "Stop"]) == 0
    assert hook.main([str(home / "missing"), "1"]) == 0
    assert out.getvalue() == ""


def test_the_program_as_codex_runs_it(home: Path) -> None:
    """bash -c COMMAND with the JSON on stdin; an allowed command gets the allow JSON."""
    done = subprocess.run(
        ["bash", "-c", hook_command(home, 1, "PermissionRequest")],
        input=json.dumps(request("ls -la")).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == hook.ALLOW
    # A model-written json.py in the hook's cwd is never imported (-I).
    (home.parent / "json.py").write_text("raise SystemExit('hijacked')\n")
    done = subprocess.run(
        ["bash", "-c", hook_command(home, 1, "PermissionRequest")],
        input=json.dumps(request("ls")).encode(),
        capture_output=True,
        cwd=home.parent,
        timeout=60,
        check=False,
    )
    assert json.loads(done.stdout) == hook.ALLOW


def _task(hook_request: dict[str, object] | None) -> Task:
    return Task(
        id=1,
        name="t",
        state="working",
        mode="tui",
        workdir="/src",
        argv=[],
        created_at="",
        updated_at="",
        log_path="",
        hook_request=json.dumps(hook_request) if hook_request else None,
    )


SCREEN_PROMPT = Verdict("waiting", "approval", "Would you like…\n$ ls -la 2>&1 [… 3 lines]")
WORKING = Verdict("working", None, None)


def test_the_hook_request_and_the_screen() -> None:
    pending = {"reason": "approval", "prompt": "FULL", "at": now(), "shown": False}
    # While the prompt is up its text is the hook's (complete) one.
    verdict, kept = with_hook_request(_task(pending), SCREEN_PROMPT)
    assert verdict == Verdict("waiting", "approval", "FULL")
    assert kept is not None and json.loads(kept)["shown"] is True
    # Before it is drawn: already waiting.
    verdict, kept = with_hook_request(_task(pending), WORKING)
    assert verdict.state == "waiting" and kept is not None
    # Drawn, then gone (answered): the screen's verdict, the request cleared.
    shown = {**pending, "shown": True}
    assert with_hook_request(_task(shown), WORKING) == (WORKING, None)
    # Never drawn for longer than the grace: over.
    old = {**pending, "at": "2000-01-01T00:00:00.000000Z"}
    assert with_hook_request(_task(old), WORKING) == (WORKING, None)
    # Another prompt, or idle: the screen wins.
    idle = Verdict("idle", None, None)
    assert with_hook_request(_task(pending), idle) == (idle, None)
    assert with_hook_request(_task(None), SCREEN_PROMPT) == (SCREEN_PROMPT, None)


def test_a_look_that_raced_a_hook_writes_nothing(home: Path) -> None:
    seen = task(home).hook_at
    hook.handle(home, 1, "PermissionRequest", request("ls; x"))
    with Store(home) as store:
        change = StateChange(1, "working", hook_at=seen)
        store.set_states([change], only_from=frozenset({"waiting", "working"}))
    assert task(home).state == "waiting"
    with Store(home) as store:
        change = StateChange(1, "working", hook_at=task(home).hook_at)
        store.set_states([change], only_from=frozenset({"waiting", "working"}))
    assert task(home).state == "working"
