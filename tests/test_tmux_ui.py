"""Living in tmux: key bindings pressed by a real client, the TPM plugin, doctor, demo,
shell completion."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import libtmux
import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli, Client
from tests.test_monitor import events, start, stored, wait_stored
from tmux_codex.core.errors import CodexNotFound
from tmux_codex.tmux.bindings import example_conf

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
PREFIX = b"\x02"  # C-b, tmux's default prefix


def test_tmux_conf_example_is_generated_from_the_bindings() -> None:
    assert (ROOT / "tmux.conf.example").read_text(encoding="utf-8") == example_conf()


def _tmux_codex_on_path(cli: Cli, server: libtmux.Server, tmp_path: Path) -> Path:
    """A ``tmux-codex`` for the server's key bindings: this checkout, this test's home.

    Every call is appended to the returned file, so a test sees what tmux ran.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    keep = ("TMUX_CODEX_HOME", "TMUX_CODEX_SOCKET", "TMUX_CODEX_CONFIG", "CODEX_HOME", "HOME")
    exports = "".join(f"export {k}='{cli.env[k]}'\n" for k in keep if k in cli.env)
    script = bin_dir / "tmux-codex"
    script.write_text(
        f"#!/bin/sh\necho \"$*\" >> '{calls}'\n{exports}"
        f"'{sys.executable}' -m tmux_codex \"$@\"\ncode=$?\n"
        f"echo \"done $*\" >> '{calls}'\nexit $code\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    server.cmd("set-environment", "-g", "PATH", f"{bin_dir}{os.pathsep}{cli.env['PATH']}")
    server.cmd("set-environment", "-g", "PYTHONPATH", str(ROOT))
    return calls


def _called(calls: Path, text: str) -> bool:
    return calls.exists() and any(text in line for line in calls.read_text().splitlines())


def _press_until(client: Client, keys: bytes, done: Callable[[], bool], what: str) -> None:
    """Type ``keys`` until ``done()``: a key pressed while tmux redraws (a message going,
    a popup closing) can be missed, as with a person; pressing again must be harmless."""
    last = [-1e9]

    def check() -> bool:
        if done():
            return True
        if time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            client.type(keys)
        return False

    wait_until(check, 60, interval=0.1, what=what)


def test_every_binding_of_the_example_config(
    cli: Cli,
    codex_env: CodexEnv,
    server: libtmux.Server,
    session: libtmux.Session,
    client: Client,
    tmp_path: Path,
) -> None:
    calls = _tmux_codex_on_path(cli, server, tmp_path)
    server.cmd("source-file", str(ROOT / "tmux.conf.example"))
    name = server.cmd("list-clients", "-F", "#{client_name}").stdout[0]
    # A name that tmux would run if it reached a message unescaped (no dots allowed in it).
    marker = Path(f"/tmp/tmux-codex-pwned-{os.getpid()}")
    name_first = f"one#(touch {marker})%H"
    first = start(cli, codex_env.workdir("one"), "[scenario:approval-exec] go", "-n", name_first)
    second = start(cli, codex_env.workdir("two"), "[scenario:approval-exec] go")
    wait_stored(cli, first, "waiting")
    wait_stored(cli, second, "waiting")

    def go_to(task: int) -> None:
        server.cmd("switch-client", "-c", name, "-t", stored(cli, task)["window_id"])

    # prefix Y approves the prompt in the current window; a tmux message says so.
    go_to(first)
    _press_until(client, PREFIX + b"Y", lambda: stored(cli, first)["state"] == "idle", "approve")
    assert any(e["detail"].startswith("approved: key y") for e in events(cli, first) if e["detail"])
    wait_until(
        lambda: any("tmux-codex approve:" in line for line in server.cmd("show-messages").stdout),
        30,
        what="the approve message",
    )
    # Again: nothing to approve, and the message names the task, literally.
    client.type(PREFIX + b"Y")
    wait_until(
        lambda: any(
            f"({name_first}) is idle: nothing to approve" in line
            for line in server.cmd("show-messages").stdout
        ),
        30,
        what="the nothing-to-approve message",
    )
    assert not marker.exists()
    # prefix N denies.
    go_to(second)
    _press_until(client, PREFIX + b"N", lambda: stored(cli, second)["state"] == "idle", "deny")
    assert any(
        e["detail"].startswith("denied: key Escape") for e in events(cli, second) if e["detail"]
    )
    # prefix J jumps to the next task that needs the user.
    third = start(cli, codex_env.workdir("three"), "[scenario:approval-exec] go")
    wait_stored(cli, third, "waiting")
    server.cmd("switch-client", "-c", name, "-t", str(session.session_id))
    target = stored(cli, third)["window_id"]
    _press_until(
        client,
        PREFIX + b"J",
        lambda: server.cmd("display-message", "-p", "-c", name, "#{window_id}").stdout[0] == target,
        "the jump to the waiting task",
    )
    # prefix C: the fleet in a popup; q closes it.
    _press_until(client, PREFIX + b"C", lambda: _called(calls, "top"), "top in the popup")
    _press_until(client, b"q", lambda: _called(calls, "done top"), "the popup to close")
    # prefix L: the log in a popup (less); q closes it.
    _press_until(client, PREFIX + b"L", lambda: _called(calls, f"log {third}"), "the log")
    _press_until(client, b"q", lambda: _called(calls, f"done log {third}"), "the log to close")
    # The status line runs the status segment.
    wait_until(lambda: _called(calls, "status --format tmux"), 30, what="the status segment")


def test_tpm_plugin_binds_keys_from_tmux_options(
    cli: Cli, server: libtmux.Server, session: libtmux.Session, tmp_path: Path
) -> None:
    server.cmd("set-option", "-g", "@tmux-codex-key-fleet", "F")
    server.cmd("set-option", "-g", "@tmux-codex-key-log", "")
    server.cmd("set-option", "-g", "status-right", "mine")
    server.cmd("set-option", "-g", "status-right-length", "50")
    server.cmd("run-shell", str(ROOT / "tmux-codex.tmux"))
    keys = "\n".join(server.cmd("list-keys", "-T", "prefix").stdout)
    bound = {
        line.split()[3]: line
        for line in keys.splitlines()
        if "tmux_codex" in line or "tmux-codex" in line
    }
    assert " top" in bound["F"]
    assert "approve" in bound["Y"] and "deny" in bound["N"] and "--next" in bound["J"]
    assert "L" not in bound  # an empty option binds nothing
    status = server.cmd("show-option", "-gv", "status-right").stdout[0]
    assert status.startswith("mine ") and "status --format tmux" in status
    # Loading it twice adds no second status segment.
    server.cmd("run-shell", str(ROOT / "tmux-codex.tmux"))
    again = server.cmd("show-option", "-gv", "status-right").stdout[0]
    assert again.count("status --format tmux") == 1
    # Room for the segment: tmux cuts status-right at its length (40 by default).
    assert server.cmd("show-option", "-gv", "status-right-length").stdout == ["90"]
    # tmux-setup outside tmux acts on TMUX_CODEX_SOCKET's server, like every command.
    server.cmd("set-option", "-g", "status-right", "")
    cli.run("tmux-setup")
    assert "status --format tmux" in server.cmd("show-option", "-gv", "status-right").stdout[0]
    assert server.cmd("show-option", "-gv", "status-right-length").stdout == ["130"]


def test_the_example_config_makes_room_once(
    server: libtmux.Server, session: libtmux.Session
) -> None:
    server.cmd("source-file", str(ROOT / "tmux.conf.example"))
    server.cmd("source-file", str(ROOT / "tmux.conf.example"))
    status = server.cmd("show-option", "-gv", "status-right").stdout[0]
    assert status.count("status --format tmux") == 1
    assert server.cmd("show-option", "-gv", "status-right-length").stdout == ["80"]


# -- doctor ----------------------------------------------------------------------------


def _doctor(cli: Cli, **env: str) -> tuple[int, dict[str, str]]:
    proc = cli.run("doctor", check=False, env=env)
    rows = {}
    for line in proc.stdout.splitlines():
        status, name = line[:4].strip(), line[6:].split("  ")[0].strip()
        rows[name] = status
    return proc.returncode, rows


def test_doctor_on_a_healthy_setup(cli: Cli, codex_env: CodexEnv) -> None:
    code, rows = _doctor(cli)
    assert code == 0, rows
    assert rows["tmux"] == "ok" and rows["codex"] == "ok" and rows["config"] == "ok"
    assert rows["monitor"] == "warn"  # not running: works, but not as intended
    cli.run("monitor", "--detach")
    assert _doctor(cli)[1]["monitor"] == "ok"


def test_doctor_on_broken_setups(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    code, rows = _doctor(cli, TMUX_CODEX_CODEX="no-such-codex")
    assert code == 1 and rows["codex"] == "FAIL"
    bad = tmp_path / "bad.toml"
    bad.write_text("[monitor]\nstall_after = \n", encoding="utf-8")
    proc = cli.run("doctor", check=False, env={"TMUX_CODEX_CONFIG": str(bad)})
    assert proc.returncode == 1 and "FAIL  config" in proc.stdout and "line 2" in proc.stdout
    old = tmp_path / "old-bin"
    old.mkdir()
    (old / "tmux").write_text("#!/bin/sh\necho 'tmux 3.1c'\n", encoding="utf-8")
    (old / "tmux").chmod(0o755)
    code, rows = _doctor(cli, PATH=f"{old}{os.pathsep}{cli.env['PATH']}")
    assert code == 1 and rows["tmux"] == "FAIL"
    other = tmp_path / "codex"
    other.write_text("#!/bin/sh\necho 'codex-cli 0.1.0'\n", encoding="utf-8")
    other.chmod(0o755)
    proc = cli.run("doctor", check=False, env={"TMUX_CODEX_CODEX": str(other)})
    assert "warn  codex" in proc.stdout and "0.169.0" in proc.stdout


# -- demo --------------------------------------------------------------------------------


def test_demo_reaches_its_states(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    socket = f"tcx-demo-{os.getpid()}"
    env = {"TMPDIR": str(tmp_path)}
    try:
        out = cli.run("demo", "--socket", socket, "--stall-after", "3", env=env).stdout
        assert f"tmux -L {socket} attach" in out and "tmux-codex approve needs-approval" in out
        root = tmp_path / f"tmux-codex-demo-{os.getuid()}"
        demo = Cli({**cli.env, "TMUX_CODEX_HOME": str(root / "home")}, root / "home", socket)
        by_name = {t["name"]: t["id"] for t in demo.json("list", "--all")}
        for name, state in (
            ("needs-approval", "waiting"),
            ("works-then-done", "done"),
            ("stalls", "stalled"),
            ("fails", "failed"),
        ):
            wait_stored(demo, by_name[name], state, timeout=90)
        assert demo.json("monitor", "--status")["running"] is True
        again = cli.run("demo", "--socket", socket, check=False, env=env)
        assert again.returncode == 1 and "demo --stop" in again.stderr
        # "Drive it from this shell" works as printed, from a shell whose PATH has no
        # tmux-codex (no virtualenv activated).
        exports = next(line for line in out.splitlines() if line.strip().startswith("export "))
        bare = {k: v for k, v in cli.env.items() if not k.startswith("TMUX_CODEX")}
        bare["PATH"] = os.pathsep.join(
            p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "tmux-codex").exists()
        )
        shell = subprocess.run(
            ["sh", "-c", f"{exports}\ntmux-codex list"],
            env=bare,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert shell.returncode == 0 and "needs-approval" in shell.stdout, shell.stderr
    finally:
        stop = cli.run("demo", "--stop", "--socket", socket, env=env)
    assert stop.stdout.strip() == "demo stopped"
    assert not (tmp_path / f"tmux-codex-demo-{os.getuid()}").exists()
    # A command with the demo's variables still exported makes its home again: that is
    # no demo running, and the next demo starts.
    demo.run("list", "--all")
    assert (root / "home").exists()
    try:
        out = cli.run("demo", "--socket", socket, "--stall-after", "3", env=env).stdout
        assert "tmux-codex approve needs-approval" in out
    finally:
        cli.run("demo", "--stop", "--socket", socket, env=env)


# -- shell completion and attach --next --------------------------------------------------


def test_completion_offers_task_ids_and_names(cli: Cli, codex_env: CodexEnv) -> None:
    cli.run(
        "start",
        "-C",
        str(codex_env.workdir()),
        "-n",
        "alpha",
        "--no-monitor",
        "[scenario:complete] a",
    )
    proc = cli.run(
        env={
            "_TMUX_CODEX_COMPLETE": "bash_complete",
            "COMP_WORDS": "tmux-codex show ",
            "COMP_CWORD": "2",
        },
    )
    assert "plain,1" in proc.stdout.split() and "plain,alpha" in proc.stdout.split()
    # wait --for completes state names, after those already given.
    proc = cli.run(
        env={
            "_TMUX_CODEX_COMPLETE": "bash_complete",
            "COMP_WORDS": "tmux-codex wait 1 --for waiting,id",
            "COMP_CWORD": "4",
        },
    )
    assert proc.stdout.split() == ["plain,waiting,idle"], proc.stdout
    assert (
        "complete -o nosort -F _tmux_codex_completion tmux-codex"
        in cli.run("completion", "bash").stdout
    )


def test_attach_next_with_nothing_to_do(cli: Cli) -> None:
    proc = cli.run("attach", "--next", check=False)
    assert proc.returncode == 1 and "no task needs you" in proc.stderr


def test_readme_config_reference_is_generated_from_the_defaults() -> None:
    from tests.gen_docs import config_block, readme_with

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with(readme, "config", config_block()) == readme, "run scripts/gen-docs"


def test_demo_finds_the_codex_scripts_setup_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README's first command, `scripts/setup && .venv/bin/tmux-codex demo`, on a machine
    with no codex on PATH: the demo runs the one setup put in the checkout's .tools."""
    from tmux_codex.ui import demo

    installed = demo.CHECKOUT / ".tools/codex/node_modules/.bin/codex"
    assert (demo.CHECKOUT / "tmux_codex" / "__init__.py").is_file()
    monkeypatch.delenv("TMUX_CODEX_CODEX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    if not installed.exists():
        with pytest.raises(CodexNotFound):
            demo.find_codex()
        return
    assert demo.find_codex() == str(installed)
