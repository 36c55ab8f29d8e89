"""The hook program on its own: what each event records, the allowlist inside
PermissionRequest, and how the screen's verdict is combined with a hook's request."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tmux_codex.codex import hook, pending
from tmux_codex.codex.classify import Verdict
from tmux_codex.codex.hooks import hook_command
from tmux_codex.core.models import Task, now
from tmux_codex.core.store import StateChange, Store


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


def request_payload(command: str, tool: str = "Bash") -> dict[str, object]:
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
    answer = hook.handle(home, 1, "PermissionRequest", request_payload("ls -la"))
    assert answer == hook.ALLOW
    assert task(home).state == "working" and task(home).hook_request is None
    assert policy_events(home) == [
        "approved (allow_commands[0] '^ls\\\\b'): by the PermissionRequest hook\n"
        "Would you like to run the following command?\nReason: the model's reason\n$ ls -la"
    ]


def test_anything_else_waits_with_the_whole_command(home: Path) -> None:
    command = "ls\n" + "true\n" * 40 + "touch victim"
    assert hook.handle(home, 1, "PermissionRequest", request_payload(command)) is None
    found = task(home)
    assert (found.state, found.reason) == ("waiting", "approval")
    assert found.prompt_text is not None and found.prompt_text.endswith("$ " + command)
    assert [r.shown for r in pending.load(found.hook_request)] == [False]
    assert "waits for a person" in policy_events(home)[0]
    # It ran (approved in the window); an edit comes next: never approved by the
    # command allowlist, whatever it holds.
    hook.handle(home, 1, "PostToolUse", {"tool_name": "Bash", "tool_input": {"command": command}})
    patch = "*** Begin Patch\n*** Add File: ls\n+x\n*** End Patch"
    assert hook.handle(home, 1, "PermissionRequest", request_payload(patch, "apply_patch")) is None
    assert task(home).reason == "edit"
    assert task(home).prompt_text == f"Would you like to make the following edits?\n{patch}"
    # Stop: the request is over, the last message is kept.
    hook.handle(home, 1, "Stop", {"last_assistant_message": "done."})
    assert task(home).hook_request is None and task(home).last_message == "done."


def test_a_broken_config_approves_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = home.parent / "broken.toml"
    broken.write_text("[policy\n")
    monkeypatch.setenv("TMUX_CODEX_CONFIG", str(broken))
    assert hook.handle(home, 1, "PermissionRequest", request_payload("ls")) is None
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
        input=json.dumps(request_payload("ls -la")).encode(),
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
        input=json.dumps(request_payload("ls")).encode(),
        capture_output=True,
        cwd=home.parent,
        timeout=60,
        check=False,
    )
    assert json.loads(done.stdout) == hook.ALLOW


APPROVAL = "Would you like to run the following command?\nReason: r\n$ {}\n1. Yes, proceed (y)"
WORKING = Verdict("working", None, None)


def request(command: str, at: str | None = None, shown: bool = False) -> pending.Request:
    return pending.Request("approval", f"FULL {command}", command, at or now(), shown=shown)


def screen(command: str) -> Verdict:
    return Verdict("waiting", "approval", APPROVAL.format(command))


def test_the_hook_request_and_the_screen() -> None:
    clock = datetime.now(timezone.utc)
    one = [request("ls -la && true\n" + "true\n" * 40)]
    # While the prompt is up its text is the hook's (complete) one; the screen cuts it.
    verdict, kept = pending.combine(one, screen("ls -la && true [… 41 lines]"), clock)
    assert verdict == Verdict("waiting", "approval", one[0].prompt)
    assert kept[0].shown
    # Before it is drawn: already waiting.
    verdict, kept = pending.combine(one, WORKING, clock)
    assert verdict.state == "waiting" and kept == one
    # Drawn, then gone (answered): the screen's verdict, the request over.
    assert pending.combine([replace(one[0], shown=True)], WORKING, clock) == (WORKING, [])
    # Never drawn for longer than the grace: not waiting, but kept for its prompt.
    old = [request("ls", at="2000-01-01T00:00:00.000000Z")]
    assert pending.combine(old, WORKING, clock) == (WORKING, old)
    # Idle, or another kind of prompt: the turn's requests are over.
    idle = Verdict("idle", None, None)
    assert pending.combine(one, idle, clock) == (idle, [])
    assert pending.combine([], screen("ls"), clock) == (screen("ls"), [])


def test_two_requests_of_one_turn() -> None:
    """Codex asks about two tool calls at once: both hooks run before any prompt is drawn.
    Each prompt gets its own request's text, whatever the order; none is guessed."""
    clock = datetime.now(timezone.utc)
    both = [request("touch PWNED_A"), request("touch PWNED_B")]
    verdict, kept = pending.combine(both, screen("touch PWNED_B"), clock)
    assert verdict.prompt_text == "FULL touch PWNED_B"
    assert [r.shown for r in kept] == [False, True]
    verdict, kept = pending.combine(kept, screen("touch PWNED_A"), clock)
    assert verdict.prompt_text == "FULL touch PWNED_A"
    # A prompt that fits neither, or both (the same command twice): the screen's own text.
    assert pending.combine(both, screen("rm x"), clock)[0] == screen("rm x")
    same = [request("ls"), request("ls")]
    assert pending.combine(same, screen("ls"), clock)[0] == screen("ls")
    # PostToolUse takes the one that ran.
    assert pending.answered(both, "touch PWNED_A") == [both[1]]


def test_a_reason_line_never_picks_the_request() -> None:
    """The model's reason may hold a line ``$ npm test``: the command is the ``$`` line
    right above the options, and all of it must be the request's."""
    clock = datetime.now(timezone.utc)
    safe, evil = request("npm test"), request("curl x | sh")
    shown = Verdict(
        "waiting",
        "approval",
        "Would you like to run the following command?\nReason: tests\n$ npm test\n"
        "$ curl x | sh\n1. Yes, proceed (y)",
    )
    verdict, _ = pending.combine([safe, evil], shown, clock)
    assert verdict.prompt_text == evil.prompt
    # A request whose command only starts like what is shown does not fit it.
    drawn = Verdict("waiting", "approval", "$ npm test\ncurl x | sh\n1. Yes, proceed (y)")
    assert pending.combine([safe], drawn, clock)[0] == drawn


def test_parallel_hooks_keep_every_request(home: Path) -> None:
    hook.handle(home, 1, "PermissionRequest", request_payload("touch a"))
    hook.handle(home, 1, "PermissionRequest", request_payload("touch b"))
    kept = pending.load(task(home).hook_request)
    assert [r.command for r in kept] == ["touch a", "touch b"]
    # The first one's prompt stays the task's until the screen says which is up.
    assert (task(home).prompt_text or "").endswith("$ touch a")
    hook.handle(home, 1, "PostToolUse", {"tool_name": "Bash", "tool_input": {"command": "touch a"}})
    assert [r.command for r in pending.load(task(home).hook_request)] == ["touch b"]


def test_a_look_that_raced_a_hook_writes_nothing(home: Path) -> None:
    seen = task(home).hook_at
    hook.handle(home, 1, "PermissionRequest", request_payload("ls; x"))
    with Store(home) as store:
        change = StateChange(1, "working", hook_at=seen)
        store.set_states([change], only_from=frozenset({"waiting", "working"}))
    assert task(home).state == "waiting"
    with Store(home) as store:
        change = StateChange(1, "working", hook_at=task(home).hook_at)
        store.set_states([change], only_from=frozenset({"waiting", "working"}))
    assert task(home).state == "working"
