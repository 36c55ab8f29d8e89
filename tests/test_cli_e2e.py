"""The tmux-codex CLI driving the real Codex in a real tmux server.

Each test has its own tmux server (libtmux's ``server`` fixture), its own
``TMUX_CODEX_HOME`` and the pinned Codex against the fake model server.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import libtmux
import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli
from tmux_codex.codex.logtext import run_ended
from tmux_codex.sim import FakeModelServer
from tmux_codex.sim import scenarios as sc

pytestmark = pytest.mark.e2e


def windows(server: libtmux.Server, marks: bool = False) -> list[str]:
    """Window names; without ``marks``, the monitor's state mark ("! ", "✓ ", ...) removed."""
    out = server.cmd("list-windows", "-a", "-F", "#{window_name}")
    names = list(out.stdout) if not out.stderr else []
    if marks:
        return names
    return [re.sub(r"^\S ", "", name) for name in names]


def test_exec_task_runs_to_done(cli: Cli, codex_env: CodexEnv, server: libtmux.Server) -> None:
    work = codex_env.workdir()
    started = cli.json("start", "-C", str(work), "-n", "maker", "[scenario:make-file] go")
    assert started["state"] == "starting" and started["mode"] == "exec"
    assert started["window_id"].startswith("@") and started["pane_id"].startswith("%")
    done = cli.wait_state("maker", "done", "failed")
    assert done["state"] == "done" and done["exit_code"] == 0
    assert (work / sc.MAKE_FILE_NAME).read_text() == "made-by-codex\n"
    # Learned from Codex's notify call, which Codex does not wait for: it may land
    # just after the exit.
    wait_until(
        lambda: cli.task("maker")["last_message"] == sc.MAKE_FILE_DONE, 30, what="the last message"
    )
    assert cli.task("maker")["codex_session_id"]
    # The shim marks the end of the run in the log: its last bytes, once tmux's pipe brings them.
    wait_until(lambda: run_ended(done["log_path"], 1), 30, what="the end mark")
    # The monitor marks the window with the task's state.
    wait_until(lambda: "✓ maker" in windows(server, marks=True), 30, what="the done mark")
    log = Path(done["log_path"])
    assert log.stat().st_mode & 0o777 == 0o600
    assert (cli.home / "logs").stat().st_mode & 0o777 == 0o700
    assert sc.MAKE_FILE_DONE in cli.run("log", "maker").stdout


def test_tui_approval_flow(cli: Cli, codex_env: CodexEnv, fake_model: FakeModelServer) -> None:
    work = codex_env.workdir(git=True)
    task_id = cli.run(
        "start", "--mode", "tui", "-C", str(work), "[scenario:approval-exec] go"
    ).stdout
    task_id = task_id.strip()
    waiting = cli.wait_state(task_id, "waiting")
    assert waiting["reason"] == "approval"
    assert sc.APPROVAL_EXEC_CMD in waiting["prompt_text"]
    listed = cli.json("list")
    assert [(t["id"], t["state"], t["reason"]) for t in listed] == [
        (int(task_id), "waiting", "approval")
    ]
    cli.run("send", task_id, "y")
    wait_until(lambda: (work / "approval-exec.txt").exists(), what="the approved command to run")
    idle = cli.wait_state(task_id, "idle")
    assert idle["reason"] is None and idle["prompt_text"] is None
    # A follow-up message goes into the composer and is submitted.
    cli.run("send", task_id, "[scenario:complete] and now finish\nwith a second line")
    wait_until(lambda: len(fake_model.turns()) >= 3, what="the follow-up to reach the model")
    users = [i for i in fake_model.turns()[-1]["body"]["input"] if i.get("role") == "user"]
    assert (
        users[-1]["content"][0]["text"] == "[scenario:complete] and now finish\nwith a second line"
    )
    cli.wait_state(task_id, "idle")
    assert sc.COMPLETE_TEXT in cli.run("screen", task_id).stdout
    # kill ends Codex; the window stays with its screen.
    assert "killed" in cli.run("kill", task_id).stdout
    killed = cli.task(task_id)
    assert killed["state"] == "killed"
    events = _events(cli, int(task_id))
    assert ("idle", "killed", "user") in [(e[0], e[1], e[2]) for e in events]


def _events(cli: Cli, task_id: int) -> list[tuple[str | None, str, str]]:
    db = sqlite3.connect(cli.home / "tasks.db")
    try:
        rows = db.execute(
            "SELECT from_state, to_state, by FROM events WHERE task_id = ? ORDER BY id", (task_id,)
        ).fetchall()
    finally:
        db.close()
    return [(r[0], r[1], r[2]) for r in rows]


def test_log_limit_and_growth_without_tmux_codex(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    task_id = cli.run("start", "--mode", "tui", "-C", str(work), "[scenario:slow-stream] talk")
    ref = task_id.stdout.strip()
    log = Path(cli.task(ref)["log_path"])
    wait_until(lambda: log.stat().st_size > 0, what="the first bytes in the log")
    first = log.stat().st_size
    # No tmux-codex process runs now; tmux's pipe-pane keeps appending.
    wait_until(lambda: log.stat().st_size > first + 200, what="the log to grow")
    cli.wait_state(ref, "idle", timeout=90)
    tail = cli.run("log", ref, "--limit", "2000").stdout
    assert len(tail.rstrip("\n")) <= 2000
    assert sc.SLOW_STREAM_DONE in tail
    assert "\x1b" not in tail
    raw = cli.run("log", ref, "--raw").stdout
    assert "\x1b" in raw


def test_nasty_prompt_is_delivered_byte_exact(
    cli: Cli, codex_env: CodexEnv, fake_model: FakeModelServer
) -> None:
    work = codex_env.workdir()
    nasty = (
        "[scenario:complete] -x --flag 'single' \"double\" $(touch pwned) `touch pwned2` $HOME "
        "; rm -rf / && echo \\ back\\slash\n\tsecond line ✓ ünïcødé 🚀\n" + "long " * 20_000
    )
    prompt_file = work.parent / "prompt.txt"
    prompt_file.write_text(nasty, encoding="utf-8")
    started = cli.json("start", "-C", str(work), "--prompt-file", str(prompt_file))
    cli.wait_state(started["id"], "done", "failed")
    users = [i for i in fake_model.turns()[0]["body"]["input"] if i.get("role") == "user"]
    assert users[-1]["content"][0]["text"] == nasty
    assert not (work / "pwned").exists() and not (work / "pwned2").exists()
    # Standard input works too.
    via_stdin = cli.run("start", "-C", str(work), "--prompt-file", "-", "--json", input=nasty[:500])
    cli.wait_state(json.loads(via_stdin.stdout)["id"], "done", "failed")
    users = [i for i in fake_model.turns()[-1]["body"]["input"] if i.get("role") == "user"]
    assert users[-1]["content"][0]["text"] == nasty[:500]


def test_twenty_concurrent_starts(cli: Cli, codex_env: CodexEnv, server: libtmux.Server) -> None:
    work = codex_env.workdir()

    def start(i: int) -> subprocess.CompletedProcess[str]:
        return cli.run(
            "start", "-C", str(work), "-n", f"t{i}", f"[scenario:complete] n{i}", check=False
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(start, range(20)))
    assert [r.returncode for r in results] == [0] * 20, [
        (r.returncode, r.stdout, r.stderr) for r in results if r.returncode
    ]
    ids = sorted(int(r.stdout) for r in results)
    assert len(set(ids)) == 20
    db = sqlite3.connect(cli.home / "tasks.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM tasks").fetchone()[0] == 20
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert sorted(w for w in windows(server) if w.startswith("t")) == sorted(
        f"t{i}" for i in range(20)
    )
    wait_until(
        lambda: all(t["state"] == "done" for t in cli.json("list", "--all")),
        120,
        interval=0.5,
        what="all twenty tasks to finish",
    )


def test_task_refs_and_rm(cli: Cli, codex_env: CodexEnv, server: libtmux.Server) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "-C", str(work), "-n", "refs", "[scenario:complete] hi")
    done = cli.wait_state("refs", "done")
    assert cli.task(task["window_id"])["id"] == task["id"]
    assert cli.task(str(task["id"]))["name"] == "refs"
    # Inside tmux, TASK defaults to the current window's task.
    inside = cli.run(
        "show", "--json", env={"TMUX": f"/x/{cli.socket},1,0", "TMUX_PANE": task["pane_id"]}
    )
    assert json.loads(inside.stdout)["id"] == task["id"]
    assert cli.run("list", "--json").stdout.strip() == "[]"  # ended tasks only with --all
    assert [t["id"] for t in cli.json("list", "--all", "--state", "done")] == [task["id"]]
    cli.run("rm", "refs", "--purge")
    assert not Path(done["log_path"]).exists()
    assert "refs" not in windows(server)
    gone = cli.run("show", "refs", check=False)
    assert gone.returncode == 1 and "no task 'refs'" in gone.stderr


def test_lost_when_window_vanishes(cli: Cli, codex_env: CodexEnv, server: libtmux.Server) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:hang-headers] x")
    cli.wait_state(task["id"], "working")
    server.cmd("kill-window", "-t", task["window_id"])
    lost = cli.wait_state(task["id"], "lost")
    assert lost["state"] == "lost"


# -- errors: one line, the right exit code, nothing changed -------------------------


def _nothing_changed(cli: Cli, server: libtmux.Server) -> None:
    db = cli.home / "tasks.db"
    if db.exists():
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
        conn.close()
        assert list((cli.home / "logs").iterdir()) == []
    assert windows(server) == []


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["start", "-C", "/nonexistent/dir", "hi"], 2, "does not exist"),
        (["start", "-C", ".", ""], 2, "prompt is empty"),
        (["start", "-C", ".", "   \n"], 2, "prompt is empty"),
        (["show", "42"], 1, "no task '42'"),
        (["send", "nope", "y"], 1, "no task 'nope'"),
        (["kill", "nope"], 1, "no task 'nope'"),
        (["list", "--state", "sleeping"], 2, "unknown state"),
    ],
)
def test_bad_input(
    cli: Cli, server: libtmux.Server, args: list[str], code: int, message: str
) -> None:
    proc = cli.run(*args, check=False)
    assert proc.returncode == code
    assert message in _one_line(proc)
    _nothing_changed(cli, server)


def test_invalid_toml_names_file_and_line(cli: Cli, server: libtmux.Server, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[codex]\nmode = "exec"\ncommand = \n')
    proc = cli.run("start", "-C", ".", "hi", check=False, env={"TMUX_CODEX_CONFIG": str(config)})
    line = _one_line(proc)
    assert proc.returncode == 2
    assert str(config) in line and "line 3" in line
    config.write_text('[codex]\nmood = "exec"\n')
    proc = cli.run("list", check=False, env={"TMUX_CODEX_CONFIG": str(config)})
    assert proc.returncode == 2 and "unknown key 'mood'" in _one_line(proc)
    _nothing_changed(cli, server)


def test_codex_not_found(cli: Cli, server: libtmux.Server, tmp_path: Path) -> None:
    proc = cli.run(
        "start", "-C", str(tmp_path), "hi", check=False, env={"TMUX_CODEX_CODEX": "no-such-codex"}
    )
    line = _one_line(proc)
    assert proc.returncode == 1
    assert "not found" in line and "npm install -g @openai/codex@" in line
    _nothing_changed(cli, server)


def _fake_path(tmp_path: Path, codex_env: CodexEnv, tmux_script: str | None) -> str:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "codex").symlink_to(codex_env.binary)
    (bin_dir / "git").symlink_to(
        subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    )
    if tmux_script is not None:
        tmux = bin_dir / "tmux"
        tmux.write_text(tmux_script)
        tmux.chmod(0o755)
    return str(bin_dir)


def test_tmux_missing(
    cli: Cli, server: libtmux.Server, codex_env: CodexEnv, tmp_path: Path
) -> None:
    path = _fake_path(tmp_path, codex_env, None)
    proc = cli.run("start", "-C", str(tmp_path), "hi", check=False, env={"PATH": path})
    assert proc.returncode == 1 and "tmux is not installed" in _one_line(proc)
    _nothing_changed(cli, server)


def test_tmux_too_old(
    cli: Cli, server: libtmux.Server, codex_env: CodexEnv, tmp_path: Path
) -> None:
    path = _fake_path(tmp_path, codex_env, "#!/bin/sh\necho 'tmux 3.1c'\n")
    proc = cli.run("start", "-C", str(tmp_path), "hi", check=False, env={"PATH": path})
    assert proc.returncode == 1 and "tmux 3.1 is too old" in _one_line(proc)
    _nothing_changed(cli, server)


def test_debug_shows_traceback(cli: Cli) -> None:
    proc = cli.run("show", "42", check=False, env={"TMUX_CODEX_DEBUG": "1"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_read_commands_do_not_import_heavy_modules(cli: Cli) -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['tmux-codex', 'list', '--json']\n"
        "try:\n    runpy.run_module('tmux_codex', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('libtmux', 'watchdog', 'pyte') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "HEAVY []" in proc.stderr, proc.stderr
    assert os.path.exists(cli.home)


def test_log_follow_ends_with_the_task(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "-C", str(work), "[scenario:slow-exec] wait")
    followed = cli.run("log", str(task["id"]), "--follow")
    assert sc.SLOW_EXEC_DONE in followed.stdout
    assert cli.task(task["id"])["state"] == "done"


def test_attach_from_outside_attaches_a_client(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, tmp_path: Path
) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:complete] hi")
    cli.wait_state(task["id"], "idle")
    # A terminal to attach from: a pane of another tmux server.
    outer = libtmux.Server(socket_name=f"{server.socket_name}-outer")
    try:
        env = {k: v for k, v in cli.env.items() if k not in ("TMUX", "TMUX_PANE")}
        session = outer.new_session(session_name="outer", x=120, y=40)
        pane = session.active_window.active_pane
        assert pane is not None
        command = f"{sys.executable} -m tmux_codex attach {task['id']}"
        session.new_window(window_name="attach", window_shell=command, environment=env)

        def client_on_task_window() -> bool:
            out = server.cmd("list-clients", "-F", "#{window_id}").stdout
            return task["window_id"] in out

        wait_until(client_on_task_window, what="a client attached to the task's window")
    finally:
        outer.kill()


def test_inside_server_reads_tmux_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tmux_codex.tasks.context import inside_server

    monkeypatch.setenv("TMUX", f"{tmp_path}/default,123,0")
    assert inside_server("") and not inside_server("other")
    monkeypatch.setenv("TMUX", f"{tmp_path}/other,123,0")
    assert inside_server("other")
    monkeypatch.delenv("TMUX")
    assert not inside_server("")


def test_wait_events_and_status(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:approval-exec] go")
    ref = str(task["id"])
    waited = cli.run("wait", ref, "--for", "waiting", "--timeout", "60")
    assert waited.stdout.strip() == "waiting:approval"
    # Already there: returns at once.
    assert cli.run("wait", ref, "--for", "waiting,idle", "--timeout", "0").returncode == 0
    timed_out = cli.run("wait", ref, "--for", "done", "--timeout", "0.5", check=False)
    assert timed_out.returncode == 1
    assert "is waiting:approval, not done, after 0.5s" in _one_line(timed_out)
    assert cli.run("status", "--format", "tmux").stdout.strip() == "codex: 1!"
    [status] = cli.json_lines("status", "--format", "json")
    assert status.pop("tokens")["tasks"] <= 1 and status == {"waiting": 1}
    cli.run("send", ref, "y")
    assert cli.run("wait", ref, "--for", "idle").stdout.strip() == "idle"
    lines = cli.json_lines("events", "--task", ref, "--json")
    changes = [(e["from"], e["to"], e["reason"], e["by"]) for e in lines]
    assert ("waiting", "waiting", "approval", "user") in changes  # the keystroke, audited
    # Seen by the monitor, or by the wait itself (it looks too, every few seconds).
    assert changes[-1][1:3] == ("idle", None) and changes[-1][3] in ("monitor", "cli")
    assert {"task", "at", "from", "to", "reason", "detail", "by"} <= set(lines[0])
    assert any(e["to"] == "waiting" and sc.APPROVAL_EXEC_CMD in e["detail"] for e in lines)
    cli.run("kill", ref)
    ended = cli.run("wait", ref, "--for", "done", "--timeout", "30", check=False)
    assert ended.returncode == 1 and "is killed, not done" in ended.stderr


def test_wait_bad_state_is_bad_input(cli: Cli) -> None:
    proc = cli.run("wait", "1", "--for", "sleeping", check=False)
    assert proc.returncode == 2 and "unknown state 'sleeping'" in _one_line(proc)


def test_tmux_conf_example_loads(tmp_path: Path) -> None:
    conf = Path(__file__).resolve().parent.parent / "tmux.conf.example"
    socket = f"tcx-conf-{os.getpid()}"
    server = libtmux.Server(socket_name=socket, config_file=str(conf))
    try:
        server.new_session(session_name="conf")
        keys = "\n".join(server.cmd("list-keys").stdout)
        for key in ("C", "L", "Y", "N"):
            assert f"prefix       {key} " in keys, key
        assert "tmux-codex status --format tmux" in "\n".join(
            server.cmd("show-options", "-g", "status-right").stdout
        )
    finally:
        server.kill()


# -- regressions from review ---------------------------------------------------------


def test_high_pane_ids_are_captured(
    cli: Cli, codex_env: CodexEnv, session: libtmux.Session
) -> None:
    for i in range(12):  # the task's pane gets an id like %12: not a format directive
        session.new_window(window_name=f"other{i}", window_shell="sleep 600")
    work = codex_env.workdir()
    task = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:complete] hi")
    assert int(task["pane_id"][1:]) >= 10
    cli.wait_state(task["id"], "idle")


def test_reused_window_id_is_not_the_task(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server
) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "-C", str(work), "-n", "old", "[scenario:complete] hi")
    cli.wait_state("old", "done")
    done2 = cli.json(
        "start", "--mode", "tui", "-C", str(work), "-n", "alive", "[scenario:hang-headers] x"
    )
    cli.wait_state("alive", "working")
    # tmux restarts; a window of the user's takes the same id as the tasks' did.
    server.kill()
    cli.wait_state("alive", "lost")
    mine = libtmux.Server(socket_name=server.socket_name).new_session(
        session_name="mine", window_command="sleep 600"
    )
    mine_window = mine.active_window.window_id
    assert mine_window in (task["window_id"], done2["window_id"])
    assert cli.run("kill", "alive", check=False).returncode == 1
    cli.run("rm", "old")
    cli.run("rm", "alive")
    assert mine_window in server.cmd("list-windows", "-a", "-F", "#{window_id}").stdout


def test_default_task_only_from_own_server(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    task = cli.json("start", "-C", str(codex_env.workdir()), "[scenario:complete] hi")
    other = f"{tmp_path}/default,1,0"  # a pane of some other tmux server
    proc = cli.run("show", check=False, env={"TMUX": other, "TMUX_PANE": task["pane_id"]})
    assert proc.returncode == 1 and "name a task" in _one_line(proc)


def test_shared_state_dir_is_refused_and_left_alone(cli: Cli, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    proc = cli.run("list", check=False, env={"TMUX_CODEX_HOME": str(shared)})
    assert proc.returncode == 2 and "is shared" in _one_line(proc)
    assert shared.stat().st_mode & 0o7777 == 0o1777
    assert list(shared.iterdir()) == []
    proc = cli.run("list", check=False, env={"TMUX_CODEX_HOME": "/proc/nope/x"})
    assert proc.returncode == 2 and "cannot use state directory" in _one_line(proc)


def test_send_at_approval_takes_one_answer_key(
    cli: Cli, codex_env: CodexEnv, fake_model: FakeModelServer
) -> None:
    work = codex_env.workdir()
    task = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:approval-exec] go")
    cli.wait_state(task["id"], "waiting")
    proc = cli.run("send", str(task["id"]), "yes", check=False)
    assert proc.returncode == 2 and "send one of y, n, p, a" in _one_line(proc)
    assert cli.task(task["id"])["state"] == "waiting"
    assert not (work / "approval-exec.txt").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "--", "-"], "use --prompt-file -"),
        (["start", "-n", "", "hi"], "invalid task name"),
        (["start", "-n", "6", "hi"], "invalid task name"),
        (["start", "-n", "@x", "hi"], "invalid task name"),
    ],
)
def test_more_bad_input(cli: Cli, server: libtmux.Server, args: list[str], message: str) -> None:
    proc = cli.run(*args, check=False)
    assert proc.returncode == 2 and message in _one_line(proc)
    _nothing_changed(cli, server)


def test_prompt_file_not_utf8(cli: Cli, server: libtmux.Server, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe not utf-8")
    proc = cli.run("start", "--prompt-file", str(bad), check=False)
    assert proc.returncode == 2 and "not UTF-8" in _one_line(proc)
    _nothing_changed(cli, server)


def test_kill_a_codex_that_ignores_sigterm(
    cli: Cli, server: libtmux.Server, tmp_path: Path
) -> None:
    stubborn = tmp_path / "stubborn-codex"
    stubborn.write_text("#!/bin/sh\ntrap '' TERM\necho started\nwhile :; do sleep 1; done\n")
    stubborn.chmod(0o755)
    env = {"TMUX_CODEX_CODEX": str(stubborn)}
    started = cli.run("start", "--mode", "tui", "-C", str(tmp_path), "x", "--json", env=env)
    task = json.loads(started.stdout)
    wait_until(lambda: Path(task["log_path"]).stat().st_size > 0, what="the stub to print")
    cli.run("kill", str(task["id"]))
    assert cli.task(task["id"])["state"] == "killed"
    # SIGKILL reached the stub; the shim ended normally, so the pane was not respawned.
    fmt = "#{pane_dead} #{pane_start_command}"
    shown = server.cmd("display-message", "-p", "-t", task["pane_id"], fmt).stdout[0]
    assert shown.startswith("1 ") and "tmux_codex.tasks.shim" in shown
    assert cli.run("kill", str(task["id"]), check=False).returncode == 1


def test_an_exec_prompt_is_not_in_any_argv(
    cli: Cli, codex_env: CodexEnv, fake_model: FakeModelServer
) -> None:
    """`ps` shows every user a process's argv: an exec task's prompt goes on stdin."""
    secret = "[scenario:slow-exec] the secret plan 4f2a"
    task = cli.json("start", "-C", str(codex_env.workdir()), secret)
    assert task["id"] and secret not in json.dumps(cli.task(task["id"]))
    wait_until(lambda: bool(fake_model.turns()), what="the prompt to reach the model")
    users = [i for i in fake_model.turns()[0]["body"]["input"] if i.get("role") == "user"]
    assert secret in json.dumps(users)
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        assert b"secret plan 4f2a" not in cmdline, cmdline[:200]
    cli.wait_state(task["id"], "done")
    assert not (cli.home / "env" / f"{task['id']}.prompt").exists()
