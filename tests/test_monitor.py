"""The monitor against the real Codex: every state reached with nobody asking.

Each test reads what is *stored* (SQLite, as ``status`` does), never through a
command that would look at tmux itself, so what it sees is the monitor's work.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import libtmux
import pytest

from tests.codexbed import CodexEnv, binary_version, wait_until
from tests.conftest import Cli
from tmux_codex.sim import scenarios as sc

pytestmark = pytest.mark.e2e


def stored(cli: Cli, task_id: int) -> dict[str, Any]:
    """The task's row as the store has it (no look at tmux)."""
    db = sqlite3.connect(f"file:{cli.home / 'tasks.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        row = db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
    finally:
        db.close()
    assert row is not None
    return dict(row)


def wait_stored(
    cli: Cli, task_id: int, *states: str, timeout: float = 60, with_message: bool = False
) -> dict[str, Any]:
    """Wait until the task is stored in one of ``states``; with ``with_message``, also
    until it holds the last message that Codex's notify call brings (it may land just
    after the state)."""
    seen: list[dict[str, Any]] = [{}]

    def check() -> bool:
        seen[0] = stored(cli, task_id)
        return seen[0]["state"] in states and (not with_message or bool(seen[0]["last_message"]))

    try:
        wait_until(check, timeout, interval=0.05, what=f"task {task_id} stored {states}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last stored: {seen[0]}") from None
    return seen[0]


def events(cli: Cli, task_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cli.json_lines("events", "--task", str(task_id), "--json")
    return found


def changes(cli: Cli, task_id: int) -> list[tuple[str, str | None, str]]:
    """(to, reason, by) of each state change of the task."""
    return [
        (e["to"], e["reason"], e["by"])
        for e in events(cli, task_id)
        if e["from"] != e["to"] or e["from"] is None
    ]


def write_config(cli: Cli, tmp_path: Path, text: str) -> None:
    path = tmp_path / "tmux-codex.toml"
    path.write_text(text, encoding="utf-8")
    cli.env["TMUX_CODEX_CONFIG"] = str(path)


def monitor_pid(cli: Cli) -> int:
    info = cli.json("monitor", "--status")
    assert info["running"] is True
    return int(info["pid"])


def start(cli: Cli, work: Path, prompt: str, *args: str) -> int:
    task = cli.json("start", "--mode", "tui", "-C", str(work), *args, prompt)
    return int(task["id"])


# -- every state, reached by the monitor ---------------------------------------------


def test_approval_then_idle(cli: Cli, codex_env: CodexEnv) -> None:
    task = start(cli, codex_env.workdir(), "[scenario:approval-exec] go")
    monitor_pid(cli)  # start launched it
    waiting = wait_stored(cli, task, "waiting")
    assert waiting["reason"] == "approval"
    assert "echo approved-command-ran" in waiting["prompt_text"]
    # Read with the patterns of the Codex it runs: the version was learned at start.
    assert waiting["codex_version"] == binary_version(codex_env.binary)
    cli.run("send", str(task), "y")
    idle = wait_stored(cli, task, "idle")
    assert idle["prompt_text"] is None
    seen = changes(cli, task)
    # The PermissionRequest hook records the approval before Codex draws its prompt.
    assert ("waiting", "approval", "hook") in seen
    assert seen[-1] == ("idle", None, "monitor")


def test_edit_prompt(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    task = start(
        cli, work, "[scenario:approval-patch] go", "--codex-arg=--sandbox", "--codex-arg=read-only"
    )
    waiting = wait_stored(cli, task, "waiting")
    assert waiting["reason"] == "edit"
    assert "approval-patch.txt" in waiting["prompt_text"]


def test_trust_menu_in_an_untrusted_git_workdir(
    cli: Cli, codex_env: CodexEnv, tmp_path: Path
) -> None:
    write_config(cli, tmp_path, "[policy]\ntrust_workdir = false\n")  # a person answers
    work = codex_env.workdir(git=True, trusted=False)
    task = start(cli, work, "[scenario:complete] hi")
    waiting = wait_stored(cli, task, "waiting")
    assert waiting["reason"] == "trust"
    assert str(work) in waiting["prompt_text"]
    cli.run("send", str(task), "")  # Enter trusts the folder
    wait_stored(cli, task, "idle")
    seen = [c[0] for c in changes(cli, task)]
    # Trusted, Codex may show its start-up screen again before it takes the
    # prompt: that is "starting", never a spurious "idle" before it works.
    assert seen[:2] == ["starting", "waiting"] and seen[-1] == "idle", seen
    assert "working" in seen and "idle" not in seen[: seen.index("working")], seen


def test_question_in_plan_mode(cli: Cli, codex_env: CodexEnv, server: libtmux.Server) -> None:
    task = start(cli, codex_env.workdir(), "[scenario:complete] hi")
    wait_stored(cli, task, "idle")
    pane = stored(cli, task)["pane_id"]

    def plan_mode() -> bool:
        screen = "\n".join(server.cmd("capture-pane", "-p", "-t", pane).stdout)
        if "Plan mode" in screen:
            return True
        cli.run("keys", str(task), "BTab")
        return False

    wait_until(plan_mode, 30, interval=0.5, what="Plan mode")
    cli.run("send", str(task), "[scenario:ask-user] please ask")
    waiting = wait_stored(cli, task, "waiting")
    assert waiting["reason"] == "question"
    assert sc.QUESTION_TEXT in waiting["prompt_text"]


def test_stalled_then_poked(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    write_config(cli, tmp_path, '[monitor]\nstall_after = "2s"\npoke_after = "3s"\n')
    task = start(cli, codex_env.workdir(), "[scenario:hang-headers] wait forever")
    # Codex redraws "Working (Ns • esc to interrupt)" every second: that is not output.
    stalled = wait_stored(cli, task, "stalled")
    assert stalled["reason"] is None
    wait_until(
        lambda: any("poked" in (e["detail"] or "") for e in events(cli, task)),
        30,
        what="the poke",
    )
    poke = [e for e in events(cli, task) if "poked" in (e["detail"] or "")]
    assert len(poke) == 1 and poke[0]["by"] == "monitor"
    stall = [e for e in events(cli, task) if e["to"] == "stalled"]
    assert stall[0]["from"] == "working" and "no output for 2s" in stall[0]["detail"]


def test_failed_exec_after_http_400(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "-C", str(work), "[scenario:http-400] go")
    failed = wait_stored(cli, task["id"], "failed", "done")
    assert failed["state"] == "failed" and failed["exit_code"] == 1
    assert changes(cli, task["id"])[-1][0] == "failed"


def test_lost_after_kill_server(cli: Cli, codex_env: CodexEnv, server: libtmux.Server) -> None:
    task = start(cli, codex_env.workdir(), "[scenario:hang-headers] x")
    wait_stored(cli, task, "working")
    server.kill()
    lost = wait_stored(cli, task, "lost")
    assert lost["state"] == "lost"
    assert monitor_pid(cli)  # the monitor outlives the tmux server


# -- the monitor's own life ----------------------------------------------------------


def test_one_monitor_per_home(cli: Cli, codex_env: CodexEnv) -> None:
    status = cli.run("monitor", "--status", check=False)
    assert status.returncode == 1 and "not running" in status.stdout
    assert cli.run("monitor", "--detach").stdout.startswith("monitor running: pid ")
    pid = monitor_pid(cli)
    second = cli.run("monitor", check=False)
    assert second.returncode == 1
    assert second.stderr.strip() == (
        f"tmux-codex: a monitor already runs for {cli.home} (pid {pid}); "
        "'tmux-codex monitor --stop' stops it"
    )
    assert cli.run("monitor", "--stop").stdout.strip() == f"monitor {pid} stopped"
    assert cli.run("monitor", "--status", check=False).returncode == 1
    assert cli.run("monitor", "--stop").stdout.strip() == "monitor not running"
    # --no-monitor starts none.
    cli.run("start", "-C", str(codex_env.workdir()), "--no-monitor", "[scenario:complete] hi")
    assert cli.run("monitor", "--status", check=False).returncode == 1


def test_sigkill_and_restart(cli: Cli, codex_env: CodexEnv, server: libtmux.Server) -> None:
    task = start(cli, codex_env.workdir(), "[scenario:approval-exec] go")
    waiting = wait_stored(cli, task, "waiting")
    os.kill(monitor_pid(cli), signal.SIGKILL)
    wait_until(
        lambda: cli.run("monitor", "--status", check=False).returncode == 1, 30, what="death"
    )
    # With no monitor, the approval is answered in the window, by hand.
    server.cmd("send-keys", "-t", waiting["pane_id"], "y")
    log = Path(waiting["log_path"])
    wait_until(lambda: b"Worked for" in log.read_bytes(), 60, what="the turn to end")
    assert stored(cli, task)["state"] == "waiting"  # nobody has looked yet
    cli.run("monitor", "--detach")
    idle = wait_stored(cli, task, "idle")
    assert idle["reason"] is None
    assert changes(cli, task)[-1] == ("idle", None, "monitor")
    # The log kept every byte printed while no monitor ran.
    assert sc.APPROVAL_EXEC_DONE.encode() in log.read_bytes()


# -- events, wait and the notify command -------------------------------------------


def test_wait_and_events_follow(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    notes = tmp_path / "notes.jsonl"
    write_config(cli, tmp_path, f"[notify]\ncommand = 'cat >> {notes}'\n")
    follow = subprocess.Popen(
        [sys.executable, "-m", "tmux_codex", "events", "--follow", "--json"],
        env=cli.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        task = start(cli, codex_env.workdir(), "[scenario:approval-exec] go")
        reached = cli.run("wait", str(task), "--for", "waiting", "--timeout", "60")
        assert reached.stdout.strip() == "waiting:approval"
        assert follow.stdout is not None
        lines: list[dict[str, Any]] = []

        out = follow.stdout.fileno()
        buffer = [b""]

        def read_until_waiting() -> bool:
            ready, _, _ = select.select([out], [], [], 0.2)
            if ready:
                buffer[0] += os.read(out, 65536)
                *done, buffer[0] = buffer[0].split(b"\n")
                lines.extend(json.loads(line) for line in done if line)
            return any(e["to"] == "waiting" for e in lines)

        wait_until(read_until_waiting, 60, interval=0.01, what="the waiting event")
        assert lines[0]["task"] == task and lines[0]["to"] == "starting"
        assert {"task", "at", "from", "to", "reason", "detail", "by"} <= set(lines[-1])
    finally:
        follow.terminate()
        follow.wait(timeout=10)
    timed_out = cli.run("wait", str(task), "--for", "done", "--timeout", "0.5", check=False)
    assert timed_out.returncode == 1 and "not done" in timed_out.stderr
    # The notify command got the event as JSON on stdin.
    wait_until(lambda: notes.exists() and b"waiting" in notes.read_bytes(), 30, what="the note")
    note = [json.loads(line) for line in notes.read_text().splitlines()]
    assert note[0]["task"] == task and note[0]["to"] == "waiting"
    assert note[0]["reason"] == "approval" and note[0]["name"]
