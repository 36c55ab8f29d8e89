"""tmux-codex's Codex hooks on the real Codex: trust, signals, and the allowlist decided
on the complete command inside the PermissionRequest hook."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli
from tests.test_monitor import events, start, stored, wait_stored, write_config
from tmux_codex.codex.hooks import codex_flags, definitions, listed_hooks, trust_hash
from tmux_codex.sim import FakeModelServer
from tmux_codex.sim import scenarios as sc

pytestmark = pytest.mark.e2e

ALLOWLIST = "[policy]\napprove = \"allowlist\"\nallow_commands = ['^ls\\b', '^true$']\n"


def escalate(command: str, reason: str = "The test asks for it.") -> str:
    """A prompt that makes the fake model ask to run ``command`` with ``reason``."""
    return "[scenario:escalate] " + json.dumps({"cmd": command, "justification": reason})


def by_policy(cli: Cli, task: int) -> list[dict[str, Any]]:
    return [e for e in events(cli, task) if e["by"] == "policy"]


def wait_audited(cli: Cli, task: int, name: str) -> list[dict[str, Any]]:
    """The task's policy events, once there is one (the hook writes it just after the state)."""
    found: list[list[dict[str, Any]]] = [[]]

    def audited() -> bool:
        found[0] = by_policy(cli, task)
        return bool(found[0])

    wait_until(audited, 30, what=f"{name}: the audit event")
    return found[0]


def keys_sent(cli: Cli, task: int) -> list[dict[str, Any]]:
    return [e for e in events(cli, task) if ": key " in (e["detail"] or "")]


def test_trust_hash_is_the_one_codex_computes(
    codex_env: CodexEnv, tmp_path: Path, cli: Cli
) -> None:
    """``codex app-server``'s ``hooks/list`` reports every hook of ours trusted, by our hash:
    a Codex that changes the recipe fails here (and in ``doctor``), not at a user's screen."""
    hooks = definitions(tmp_path / "home with #(touch x) and 'quotes' é", 42)
    work = codex_env.workdir()
    listed = listed_hooks(
        str(codex_env.binary), codex_flags(hooks), work, {**os.environ, **codex_env.env}
    )
    by_key = {h["key"]: h for h in listed}
    assert len(by_key) == len(hooks)
    for hook in hooks:
        assert by_key[hook.key]["currentHash"] == trust_hash(hook), hook.event
        assert by_key[hook.key]["trustStatus"] == "trusted", hook.event
        assert by_key[hook.key]["command"] == hook.command
    doctor = cli.run("doctor", check=False).stdout
    assert "hooks of tmux-codex's, trusted by hash" in doctor, doctor


def test_an_allowed_command_is_approved_by_the_hook(
    cli: Cli, codex_env: CodexEnv, tmp_path: Path, fake_model: FakeModelServer
) -> None:
    write_config(cli, tmp_path, ALLOWLIST)
    task = start(cli, codex_env.workdir(), escalate("ls -la"))
    wait_stored(cli, task, "idle")
    approved = by_policy(cli, task)
    assert len(approved) == 1, approved
    assert approved[0]["detail"].startswith(
        "approved (allow_commands[0] '^ls\\\\b'): by the PermissionRequest hook\n"
    )
    assert approved[0]["detail"].endswith("\n$ ls -la")
    # No key was pressed and the task never waited: the hook answered before any prompt.
    assert keys_sent(cli, task) == []
    assert all(e["to"] != "waiting" for e in events(cli, task))
    outputs = [
        item
        for turn in fake_model.turns()
        for item in turn["body"].get("input", [])
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    ]
    assert outputs, "the command's output never reached the model"
    assert "rejected" not in json.dumps(outputs)
    # The hooks spoke: the session id came from SessionStart, the last message from Stop.
    row = stored(cli, task)
    assert row["codex_session_id"] and row["hook_at"]
    wait_until(lambda: stored(cli, task)["last_message"] == sc.ESCALATE_DONE, 30, what="message")


FORTY = "ls\n" + "true\n" * 40 + "touch PWNED"
ATTACKS = {
    "semicolon": "ls; touch PWNED",
    "and-pipe-sh": "ls && echo touch PWNED | sh",
    "substitution": "ls $(touch PWNED)",
    "backticks": "ls `touch PWNED`",
    "newline": "ls\ntouch PWNED",
    "forty-lines": FORTY,
    "redirect": "ls > PWNED",
    "find-exec": "find . -maxdepth 0 -exec touch PWNED ;",
}


def test_every_attack_waits_for_a_person(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    write_config(cli, tmp_path, ALLOWLIST)
    # Every workdir first (each one rewrites Codex's config), then the tasks.
    works = {name: codex_env.workdir(name) for name in [*ATTACKS, "reason"]}
    tasks: dict[str, tuple[int, Path]] = {}
    for name, command in ATTACKS.items():
        tasks[name] = (start(cli, works[name], escalate(command), "-n", name), works[name])
    # The model's reason imitates an allowed command line; the real one starts with a newline.
    fake_reason = "a " * 60 + "$ ls -la"
    work = works["reason"]
    tasks["reason"] = (start(cli, work, escalate("\ntouch PWNED", fake_reason)), work)
    for name, (task, work) in tasks.items():
        waiting = wait_stored(cli, task, "waiting", timeout=90)
        assert waiting["reason"] == "approval", name
        audit = wait_audited(cli, task, name)
        assert len(audit) == 1 and "waits for a person" in audit[0]["detail"], (name, audit)
        assert not (work / "PWNED").exists(), name
        assert keys_sent(cli, task) == [], name
    # The whole of a 40-line command is in the prompt text, though the screen cuts it.
    forty = stored(cli, tasks["forty-lines"][0])["prompt_text"]
    assert forty.endswith("$ " + FORTY), forty
    screen = cli.run("screen", str(tasks["forty-lines"][0])).stdout
    assert "touch PWNED" not in screen  # Codex shows "[… N lines]" there
    # A person still answers: deny one, and nothing ran.
    task, work = tasks["semicolon"]
    cli.run("deny", str(task))
    wait_stored(cli, task, "idle")
    assert not (work / "PWNED").exists()


def test_the_allowlist_with_hooks_off(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    """Where hooks are off, the screen decides, and only when it shows the whole command."""
    write_config(cli, tmp_path, ALLOWLIST)
    off = ("--codex-arg=-c", "--codex-arg=features.hooks=false")
    commands = [
        ("semicolon", "ls; touch PWNED"),
        ("newline", "ls\ntouch PWNED"),
        ("forty-lines", FORTY),
        ("reason", "\ntouch PWNED"),
    ]
    # Every workdir first (each one rewrites Codex's config), then the tasks.
    works = {name: codex_env.workdir(name) for name in ["allowed", *(n for n, _ in commands)]}
    allowed = start(cli, works["allowed"], escalate("ls -la"), *off)
    attacks = {
        name: (start(cli, works[name], escalate(command), *off), works[name])
        for name, command in commands
    }
    wait_stored(cli, allowed, "idle", timeout=90)
    fired = by_policy(cli, allowed)
    assert fired and fired[0]["detail"].startswith("approved (allow_commands[0] '^ls\\\\b'): key y")
    assert stored(cli, allowed)["hook_at"] is None  # no hook ever ran
    for name, (task, work) in attacks.items():
        wait_stored(cli, task, "waiting", timeout=90)
        audit = wait_audited(cli, task, name)
        assert all(": key " not in e["detail"] for e in audit), name
        assert not (work / "PWNED").exists(), name
    # A person approves by hand as before.
    task, work = attacks["semicolon"]
    cli.run("approve", str(task))
    wait_stored(cli, task, "idle")
    assert (work / "PWNED").exists()


def test_the_users_own_untrusted_hooks_are_a_menu(
    cli: Cli, codex_env: CodexEnv, tmp_path: Path
) -> None:
    """A hook of the user's, not trusted, brings up "Hooks need review": waiting:menu, and no
    policy answers it; tmux-codex's own hooks are trusted all the same."""
    work = codex_env.workdir()  # (it rewrites Codex's config: first)
    config = codex_env.home / "config.toml"
    marker = tmp_path / "user-hook-ran"
    config.write_text(
        config.read_text()
        + f'\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = "command"\ncommand = "touch {marker}"\n'
    )
    write_config(cli, tmp_path, "[policy]\ntrust_workdir = true\n")
    task = start(cli, work, "[scenario:complete] hi")
    waiting = wait_stored(cli, task, "waiting")
    assert waiting["reason"] == "menu"
    assert "Hooks need review" in waiting["prompt_text"]
    assert stored(cli, task)["hook_at"] is None  # SessionStart comes with the first prompt
    assert by_policy(cli, task) == []
    # "Continue without trusting": ours run, the user's do not.
    cli.run("keys", str(task), "3")
    wait_stored(cli, task, "idle")
    wait_until(lambda: stored(cli, task)["last_message"] == sc.COMPLETE_TEXT, 30, what="message")
    assert stored(cli, task)["hook_at"] is not None
    assert not marker.exists()


def test_exec_tasks_run_the_hooks_too(cli: Cli, codex_env: CodexEnv) -> None:
    found = cli.json("start", "-C", str(codex_env.workdir()), "[scenario:make-file] go")
    task = int(found["id"])
    done = wait_stored(cli, task, "done")
    assert done["hook_at"] is not None and done["codex_session_id"]
    wait_until(lambda: stored(cli, task)["last_message"] == sc.MAKE_FILE_DONE, 30, what="message")


def test_two_prompts_of_one_turn_are_answered_one_by_one(cli: Cli, codex_env: CodexEnv) -> None:
    """The model asks to run two commands at once: both hooks run before either prompt is
    drawn. Each approve answers the prompt on screen, with that prompt's own text, and
    never the next one."""
    work = codex_env.workdir()
    both = json.dumps({"cmds": ["touch PWNED_A", "touch PWNED_B"]})
    task = start(cli, work, f"[scenario:escalate] {both}")
    first = wait_stored(cli, task, "waiting")
    wait_until(
        lambda: cli.task(task)["prompt_text"] in (FULL_A, FULL_B), 60, what="a prompt of its own"
    )
    shown = cli.task(task)["prompt_text"]
    assert first["reason"] == "approval"
    cli.run("approve", str(task))
    ran, other = ("PWNED_A", "PWNED_B") if shown == FULL_A else ("PWNED_B", "PWNED_A")
    wait_until(lambda: (work / ran).exists(), 60, what=f"{ran} to be made")
    # The second prompt, with its own command; the first approve did not answer it.
    wait_until(
        lambda: cli.task(task)["state"] == "waiting" and other in cli.task(task)["prompt_text"],
        60,
        what="the second prompt",
    )
    assert not (work / other).exists()
    cli.run("deny", str(task))
    wait_stored(cli, task, "idle")
    assert not (work / other).exists()
    approved = [e for e in events(cli, task) if (e["detail"] or "").startswith("approved")]
    assert len(approved) == 1 and ran in approved[0]["detail"], approved


FULL_A = (
    "Would you like to run the following command?\nReason: The test asks for it.\n$ touch PWNED_A"
)
FULL_B = FULL_A.replace("PWNED_A", "PWNED_B")
