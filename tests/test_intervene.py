"""Intervening on the real Codex: approve, deny, poke, and the policies that do it unattended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import libtmux
import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli
from tests.test_monitor import events, start, stored, wait_stored, write_config
from tmux_codex.sim import scenarios as sc

pytestmark = pytest.mark.e2e


def test_approve_a_command(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    task = start(cli, work, "[scenario:approval-exec] go")
    wait_stored(cli, task, "waiting")
    assert cli.run("approve", str(task)).returncode == 0
    wait_stored(cli, task, "idle")
    assert (work / "approval-exec.txt").read_text() == "approved-command-ran\n"
    answer = [e for e in events(cli, task) if (e["detail"] or "").startswith("approved")]
    assert answer[0]["by"] == "user"
    assert answer[0]["detail"].startswith("approved: key y\nWould you like to run")
    assert sc.APPROVAL_EXEC_CMD in answer[0]["detail"]


def test_deny_a_command(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    task = start(cli, work, "[scenario:approval-exec] go")
    wait_stored(cli, task, "waiting")
    cli.run("deny", str(task))
    wait_stored(cli, task, "idle")
    assert not (work / "approval-exec.txt").exists()
    assert any((e["detail"] or "").startswith("denied: key Escape") for e in events(cli, task))


def test_approve_an_edit(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    task = start(
        cli, work, "[scenario:approval-patch] go", "--codex-arg=--sandbox", "--codex-arg=read-only"
    )
    assert wait_stored(cli, task, "waiting")["reason"] == "edit"
    cli.run("approve", str(task))
    wait_stored(cli, task, "idle")
    assert (work / sc.PATCH_FILE).read_text() == sc.PATCH_BODY + "\n"


def test_nothing_to_approve(cli: Cli, codex_env: CodexEnv, server: libtmux.Server) -> None:
    task = start(cli, codex_env.workdir(), "[scenario:complete] hi")
    wait_stored(cli, task, "idle")
    before = len(events(cli, task))
    for verb in ("approve", "deny"):
        proc = cli.run(verb, str(task), check=False)
        assert proc.returncode == 1
        assert proc.stderr.strip().endswith(f"is idle: nothing to {verb}")
    assert len(events(cli, task)) == before  # no key was sent
    # Nor typed: the composer still shows its placeholder. (The rest of the screen
    # may change by itself, e.g. the footer once Codex has named the session.)
    composer = [line for line in cli.run("screen", str(task)).stdout.splitlines() if "›" in line]
    assert composer[-1].strip() == "› Ask Codex to do anything", composer


def test_allowlist_policy(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    write_config(cli, tmp_path, "[policy]\napprove = \"allowlist\"\nallow_commands = ['^touch ']\n")
    work = codex_env.workdir("allowed")
    command = "touch allowed.txt"
    prompt = "[scenario:escalate] " + json.dumps({"cmd": command})
    task = start(cli, work, prompt)
    wait_stored(cli, task, "idle")
    assert (work / "allowed.txt").exists()
    fired = [e for e in events(cli, task) if e["by"] == "policy"]
    assert fired[0]["detail"].startswith(
        "approved (allow_commands[0] '^touch '): by the PermissionRequest hook\n"
    )
    assert fired[0]["detail"].endswith(f"$ {command}")
    # Deny wins over allow; the denied command waits for a person.
    cli.run("monitor", "--stop")
    write_config(
        cli,
        tmp_path,
        "[policy]\napprove = \"allowlist\"\nallow_commands = ['^touch ']\n"
        "deny_commands = ['allowed[.]txt']\n",
    )
    work = codex_env.workdir("denied")
    task = start(cli, work, prompt)
    wait_stored(cli, task, "waiting")
    wait_until(lambda: any(e["by"] == "policy" for e in events(cli, task)), 30, what="audit")
    refused = [e for e in events(cli, task) if e["by"] == "policy"]
    assert refused[0]["detail"].startswith(
        "a deny pattern matches: not approved (deny_commands[0] 'allowed[.]txt')\n"
    )
    assert stored(cli, task)["state"] == "waiting"
    assert not (work / "allowed.txt").exists()


def test_trust_policy_in_a_git_workdir(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir(git=True, trusted=False)
    task = start(cli, work, "[scenario:complete] hi")  # trust_workdir is on by default
    wait_stored(cli, task, "idle")
    trusted = [e for e in events(cli, task) if e["by"] == "policy"]
    assert trusted[0]["detail"].startswith("approved (trust_workdir): key Enter\n")
    assert str(work) in trusted[0]["detail"]


def test_kill_after_policy(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    write_config(
        cli,
        tmp_path,
        '[monitor]\nstall_after = "1s"\npoke_after = "0"\n[policy]\nkill_after = "2s"\n',
    )
    task = start(cli, codex_env.workdir(), "[scenario:hang-headers] wait forever")
    killed = wait_stored(cli, task, "killed")
    assert killed["state"] == "killed"
    last = [e for e in events(cli, task) if e["to"] == "killed"][-1]
    assert last["by"] == "policy" and "(kill_after)" in last["detail"]


def test_poke_by_hand(cli: Cli, codex_env: CodexEnv) -> None:
    task = start(cli, codex_env.workdir(), "[scenario:complete] hi")
    wait_stored(cli, task, "idle")
    said = cli.run("poke", str(task)).stdout
    assert said.strip().endswith("): poked: pressed Enter"), said  # it says what it did
    assert [e["by"] for e in events(cli, task) if e["detail"] == "poked: pressed Enter"] == ["user"]
    exec_task = cli.json("start", "-C", str(codex_env.workdir("x")), "[scenario:hang-headers] x")
    proc = cli.run("poke", str(exec_task["id"]), check=False)
    assert proc.returncode == 1 and "reads no input" in proc.stderr


def test_loop_guard(cli: Cli, codex_env: CodexEnv) -> None:
    task = cli.json("start", "-C", str(codex_env.workdir()), "[scenario:loop] go")
    wait_stored(cli, task["id"], "done", "failed")

    def flagged() -> list[dict[str, Any]]:
        return [e for e in events(cli, task["id"]) if (e["detail"] or "").startswith("looping:")]

    # The monitor may read the last of the loop just after the shim recorded the end.
    wait_until(lambda: bool(flagged()), 30, what="the loop flagged")
    assert len(flagged()) == 1 and flagged()[0]["by"] == "monitor", events(cli, task["id"])
    assert "times in a row" in flagged()[0]["detail"]
