"""Resume on the real Codex: the same conversation continues after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import libtmux
import pytest

from tests.codexbed import CodexEnv, binary_version, wait_until
from tests.conftest import Cli
from tests.test_monitor import events, start, stored, wait_stored
from tmux_codex.sim import FakeModelServer
from tmux_codex.sim import scenarios as sc

pytestmark = pytest.mark.e2e

SEPARATOR = "==== tmux-codex: resumed, attempt 2, "


def test_resume_a_tui_task_after_kill_server(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, fake_model: FakeModelServer
) -> None:
    task = start(cli, codex_env.workdir(), "[scenario:complete] remember the word PELICAN")
    wait_stored(cli, task, "idle")
    # Learned without waiting for the turn to end: from Codex's rollout file.
    wait_until(lambda: stored(cli, task)["codex_session_id"], 30, what="the session id")
    session = stored(cli, task)["codex_session_id"]
    server.kill()
    wait_stored(cli, task, "lost")
    before = Path(stored(cli, task)["log_path"]).read_bytes()
    out = cli.run("resume", str(task), "[scenario:complete] go on")
    assert out.stdout.strip().endswith("resumed: attempt 2")
    resumed = wait_stored(cli, task, "idle")
    assert resumed["attempt"] == 2 and resumed["codex_session_id"] == session
    assert resumed["codex_version"] == binary_version(codex_env.binary)
    # The model got the earlier conversation with the new message.
    last = json.dumps(fake_model.turns()[-1]["body"]["input"])
    assert "remember the word PELICAN" in last and sc.COMPLETE_TEXT in last
    assert "[scenario:complete] go on" in last
    # The same log, appended to after a separator.
    after = Path(resumed["log_path"]).read_bytes()
    assert after.startswith(before)
    assert b"==== tmux-codex: resumed, attempt 2, " in after[len(before) :]
    # The readable log keeps the first run, the separator line, then the second run.
    lines = cli.run("log", str(task)).stdout.splitlines()
    separator = next(i for i, line in enumerate(lines) if line.startswith(SEPARATOR))
    first, second = "\n".join(lines[:separator]), "\n".join(lines[separator + 1 :])
    assert "› [scenario:complete] remember the word PELICAN" in first
    assert sc.COMPLETE_TEXT in first and "Worked for" in first
    assert "› [scenario:complete] go on" in second
    # Its end, read from the end of the file, is the end of the whole readable log.
    wait_until(
        lambda: (
            cli.run("log", str(task), "--limit", "3000").stdout
            == "\n".join(cli.run("log", str(task)).stdout.splitlines())[-3000:] + "\n"
        ),
        30,
        what="log --limit to be the end of log",
    )
    assert any("resumed Codex session" in (e["detail"] or "") for e in events(cli, task))


def test_resume_an_exec_task(cli: Cli, codex_env: CodexEnv, fake_model: FakeModelServer) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "-C", str(work), "[scenario:complete] remember the word HERON")
    wait_stored(cli, task["id"], "done")
    wait_until(lambda: stored(cli, task["id"])["codex_session_id"], 30, what="the session id")
    session = stored(cli, task["id"])["codex_session_id"]
    cli.run("resume", str(task["id"]), "[scenario:complete] and then?")
    again = wait_stored(cli, task["id"], "done")
    assert again["attempt"] == 2 and again["codex_session_id"] == session
    last = json.dumps(fake_model.turns()[-1]["body"]["input"])
    assert "remember the word HERON" in last and "and then?" in last


def test_resume_waits_for_a_slot(
    cli: Cli,
    codex_env: CodexEnv,
    fake_model: FakeModelServer,
    tmp_path: Path,
    session: libtmux.Session,  # tmux started here: its environment is not the task's
) -> None:
    """At [fleet] max_parallel, a resumed task is queued, as a new one would be, and the
    monitor runs it as resumed (the same session, attempt 2, the environment of the
    'resume') when a slot frees."""
    config = tmp_path / "one.toml"
    config.write_text("[fleet]\nmax_parallel = 1\n", encoding="utf-8")
    cli.env["TMUX_CODEX_CONFIG"] = str(config)
    work = codex_env.workdir()
    task = cli.json("start", "-C", str(work), "[scenario:complete] remember the word EGRET")
    wait_stored(cli, task["id"], "done")
    wait_until(lambda: stored(cli, task["id"])["codex_session_id"], 30, what="the session id")
    session = stored(cli, task["id"])["codex_session_id"]
    holder = start(cli, work, "[scenario:complete] hold the slot")
    wait_stored(cli, holder, "idle")
    out = cli.run("resume", str(task["id"]), "[scenario:complete] and the word?")
    assert "queued: attempt 2 waits for a slot" in out.stdout
    waiting = stored(cli, task["id"])
    assert (waiting["state"], waiting["reason"], waiting["attempt"]) == ("queued", "slot", 2)
    assert waiting["window_id"] is None
    log = Path(waiting["log_path"]).read_bytes()
    assert log.count(SEPARATOR.encode()) == 1  # written once, before anything of run 2
    cli.run("kill", str(holder))
    again = wait_stored(cli, task["id"], "done")
    assert again["attempt"] == 2 and again["codex_session_id"] == session
    assert again["start_commit"] == task["start_commit"]  # still its first run's
    last = json.dumps(fake_model.turns()[-1]["body"]["input"])
    assert "remember the word EGRET" in last and "and the word?" in last
    seen = [(e["to"], e["by"]) for e in events(cli, task["id"])]
    assert ("queued", "user") in seen and ("starting", "queue") in seen
    assert Path(again["log_path"]).read_bytes().count(SEPARATOR.encode()) == 1


def test_resume_needs_an_ended_task_with_a_session(
    cli: Cli, codex_env: CodexEnv, tmp_path: Path
) -> None:
    task = start(cli, codex_env.workdir(), "[scenario:hang-headers] x")
    wait_stored(cli, task, "working")
    proc = cli.run("resume", str(task), check=False)
    assert proc.returncode == 1 and "only an ended task can be resumed" in proc.stderr
    # A Codex killed at its trust menu never began a session: nothing to resume.
    config = tmp_path / "no-trust.toml"
    config.write_text("[policy]\ntrust_workdir = false\n", encoding="utf-8")
    cli.run("monitor", "--stop")
    cli.env["TMUX_CODEX_CONFIG"] = str(config)
    menu = start(cli, codex_env.workdir("untrusted", git=True, trusted=False), "hi")
    assert wait_stored(cli, menu, "waiting")["reason"] == "trust"
    cli.run("kill", str(menu))
    proc = cli.run("resume", str(menu), check=False)
    assert proc.returncode == 1 and "has no known Codex session id" in proc.stderr
    assert stored(cli, menu)["state"] == "killed" and stored(cli, menu)["attempt"] == 1


def test_max_resumes_policy(
    cli: Cli,
    codex_env: CodexEnv,
    server: libtmux.Server,
    session: libtmux.Session,  # keeps the tmux server up when the task's window goes
    tmp_path: Path,
) -> None:
    config = tmp_path / "resume.toml"
    config.write_text("[policy]\nmax_resumes = 1\n", encoding="utf-8")
    cli.env["TMUX_CODEX_CONFIG"] = str(config)
    task = start(cli, codex_env.workdir(), "[scenario:complete] remember the word EGRET")
    wait_stored(cli, task, "idle")
    wait_until(lambda: stored(cli, task)["codex_session_id"], 30, what="the session id")
    server.cmd("kill-window", "-t", stored(cli, task)["window_id"])
    wait_stored(cli, task, "lost")
    # Resumed by the policy after its backoff (5 s), into a new window.
    wait_until(lambda: stored(cli, task)["attempt"] == 2, 60, what="the automatic resume")
    resumed = wait_stored(cli, task, "idle")
    assert resumed["codex_session_id"] == stored(cli, task)["codex_session_id"]
    fired = [e for e in events(cli, task) if e["by"] == "policy"]
    assert fired[0]["detail"].startswith("resumed Codex session ")


def test_resume_replaces_tmux_codex_own_flags_only() -> None:
    from tmux_codex.core.models import Task
    from tmux_codex.tasks.resume import resume_argv

    old = [
        "codex", "-a", "on-request", "-c", "model=kept",
        "-c", 'notify=["/old/python", "-I", "-m", "tmux_codex.notify_hook"]',
        "-c", 'hooks.stop=[{"hooks": [{"command": "old -m tmux_codex.hook"}]}]',
        "-c", "hooks.state={}", "-C", "/w", "--", "first prompt",
    ]  # fmt: skip
    task = Task(1, "t", "killed", "tui", "/w", old, "", "", "/l", codex_session_id="sid")
    own = ["-c", "notify=NEW", "-c", "hooks.stop=NEW"]
    assert resume_argv(task, "go", own) == [
        "codex", "-a", "on-request", "-c", "model=kept", *own,
        "-C", "/w", "resume", "--", "sid", "go",
    ]  # fmt: skip
    assert resume_argv(task, None)[:9] == old[:9]  # without own: kept as they were
