"""Text tmux takes literally: names, directories, messages and the log pipe.

tmux expands formats (``#{...}``, and ``#(command)``, which runs a command)
in window and session names, start directories, messages and the pipe-pane
command, and an argument ending in ``;`` ends a tmux command. Everything a
user or the model controls must reach tmux as ``tmux.literal`` makes it.

The helper is checked against a real tmux server; the CLI with the real Codex
on the test bed. A command a format would run touches a marker file; where a
path cannot hold a ``/`` the marker name is relative, so every directory the
command could run in is searched.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libtmux
import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli, Client
from tests.test_monitor import stored
from tmux_codex.codex.logtext import run_ended
from tmux_codex.core.config import Config, NotifyConfig
from tmux_codex.core.errors import BadInput
from tmux_codex.core.models import Event, Task
from tmux_codex.monitor.notify import Notifier, message
from tmux_codex.sim import scenarios as sc
from tmux_codex.tasks.launch import StartRequest, validate
from tmux_codex.tmux.server import Tmux, literal

WAIT = 60.0
#: What tmux must take literally: formats, commands, escapes, strftime, ";" at the end.
NASTY = [
    "plain",
    "#{session_name}",
    "##",
    "#",
    "a#,b#}c",
    "#[fg=red]x",
    "##[",
    "x#[#{pane_id}##(touch pwned-literal)]#",
    "%H %% %",
    "semi;",
    ";",
    "\\;",
    "a\\\\;",
    "a;b; c",
    "#;",
    "back\\",
    "-dash",
    " spaced  out ",
    "quotes ' \" $HOME `id`",
    "ünï 日本",
]


# -- the helper -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("plain", {}, "plain"),
        ("#(touch x)", {}, "##(touch x)"),
        ("a#{b}##", {}, "a##{b}####"),
        ("a#[b] ##[#", {}, "a#[b] ##[##"),  # tmux copies a run of # before [ as it is
        ("100%H", {}, "100%H"),
        ("100%H #", {"strftime": True}, "100%%H ##"),
        ("semi;", {}, "semi\\;"),
        (";", {}, "\\;"),
        ("a\\;", {}, "a\\\\;"),
        ("a;b", {}, "a;b"),
        ("#x;", {"formats": False}, "#x\\;"),
        ("", {}, ""),
    ],
)
def test_literal(text: str, kwargs: dict[str, bool], expected: str) -> None:
    assert literal(text, **kwargs) == expected


def _touch(marker: Path) -> str:
    return f"#(touch {shlex.quote(str(marker))})"


def test_tmux_takes_literal_text_literally(server: libtmux.Server, tmp_path: Path) -> None:
    """Names, directories, messages and option values come back as they were given."""
    tmux = Tmux(str(server.socket_name))
    marker = tmp_path / "ran"
    texts = [*NASTY, _touch(marker), f"{_touch(marker)};"]
    tmux.run("new-session", "-d", "-s", "base", "-x", "80", "-y", "20")
    for text in texts:
        shown = tmux.run("display-message", "-p", "--", literal(text, strftime=True))
        assert shown == [text]
        window = tmux.run("new-window", "-d", "-P", "-F", "#{window_id}", "-n", literal(text))[0]
        tmux.run("set-option", "-w", "-t", window, "@text", literal(text, formats=False))
        shown = tmux.run("display-message", "-p", "-t", window, "#{window_name}|#{@text}")
        assert shown == [f"{text}|{text}"]
        tmux.run("rename-window", "-t", window, "--", literal(f"x{text}"))
        # rename-window (unlike new-window -n) passes the name through tmux's vis():
        # a backslash shows as two, "$HOME" as "\$HOME". Nothing runs.
        renamed = re.sub(r"\$(?=[A-Za-z_{])", r"\\$", f"x{text}".replace("\\", "\\\\"))
        assert tmux.run("display-message", "-p", "-t", window, "#{window_name}") == [renamed]
    # A directory and a session name (which tmux would change if it held a ".").
    odd = tmp_path / "dir #(touch pwned-literal) #{pane_id} #[x] %H;"
    odd.mkdir()
    session = "s #(touch pwned-literal) #{pane_id} %H;"
    tmux.run("new-session", "-d", "-s", literal(session), "-c", literal(str(odd)), "cat")
    fmt = "#{session_name}|#{pane_current_path}"
    shown = tmux.run("display-message", "-p", "-t", f"={session}:", fmt)
    assert shown == [f"{session}|{odd}"]
    # Unescaped, the same text runs its command. tmux ends a command's jobs when
    # its client leaves: this client stays until the job has run (or 60 s).
    control = tmp_path / "control"
    until = f"i=0; while [ ! -e {shlex.quote(str(control))} ] && [ $i -lt 600 ]; do"
    until += " sleep 0.1; i=$((i+1)); done"
    argv = [*tmux.base(), "display-message", "-p", _touch(control), ";", "run-shell", until]
    subprocess.run(argv, capture_output=True, timeout=WAIT * 2, check=True)
    assert control.exists()
    assert not marker.exists()
    assert not _ran("pwned-literal", tmp_path)


def test_keys_are_sent_literally(server: libtmux.Server, tmp_path: Path) -> None:
    """``send TASK 'abc;'`` delivered ``abc`` and ``'x\\;'`` delivered ``x;``: a final ";"
    ends a tmux command unless escaped. Keys reach the pane byte for byte."""
    tmux = Tmux(str(server.socket_name))
    out = tmp_path / "typed"
    tmux.run("new-session", "-d", "-s", "keys", "-x", "80", "-y", "20", f"cat > {out}")
    pane = tmux.run("display-message", "-p", "-t", "keys:", "#{pane_id}")[0]
    sent = ["abc;", "x\\;", ";", "\\", "#(touch pwned-keys) %H #{pane_id}"]
    for text in sent:
        tmux.send_keys(pane, text, literal=True)
        tmux.send_keys(pane, "Enter")
    tmux.send_keys(pane, "C-d")
    wait_until(lambda: out.exists() and out.read_text().count("\n") == len(sent), WAIT)
    assert out.read_text().splitlines() == sent
    assert not _ran("pwned-keys", tmp_path)


# -- the log pipe -------------------------------------------------------------------


def test_pipe_pane_logs_to_any_path(server: libtmux.Server, tmp_path: Path) -> None:
    """The shim's pipe-pane writes to the log whatever its path holds."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    nasty = tmp_path / "a #(touch pwned-pipe)" / "b #{pane_id} ## # #[x] ##[" / "c %H %% %"
    nasty = nasty / "d 'single' \"double\" $HOME `id` \\" / "e ;x; f;"
    nasty.mkdir(parents=True)
    log = nasty / "1.log"
    log.touch()
    code = (
        "import sys; from tmux_codex.tasks.shim import _prepare_pane; "
        "_prepare_pane(1, sys.argv[1]); print('after-the-pipe', flush=True); sys.stdin.read()"
    )
    server.new_session(
        session_name="pipe",
        attach=False,
        start_directory=str(cwd),
        window_command=shlex.join([sys.executable, "-c", code, str(log)]),
    )
    wait_until(
        lambda: b"after-the-pipe" in log.read_bytes(), WAIT, what="the pane's output in the log"
    )
    assert not _ran("pwned-pipe", tmp_path)


# -- the CLI with the real Codex ------------------------------------------------------

e2e = pytest.mark.e2e


def _ran(name: str, tmp_path: Path) -> list[Path]:
    """Where a command that touched ``name`` (a relative path) left it."""
    places = [Path.cwd(), Path.home(), Path("/"), Path(os.environ.get("HOME", "/"))]
    found = [p / name for p in places if (p / name).exists()]
    return found + list(tmp_path.rglob(name))


def _windows(server: libtmux.Server) -> list[str]:
    out = server.cmd("list-windows", "-a", "-F", "#{window_name}")
    return list(out.stdout) if not out.stderr else []


def _sessions(server: libtmux.Server) -> list[str]:
    out = server.cmd("list-sessions", "-F", "#{session_name}")
    return list(out.stdout) if not out.stderr else []


def _finish(cli: Cli, task_id: int) -> dict[str, Any]:
    """Wait for the exec task to end ``done`` with its log complete; the task."""
    done = cli.wait_state(task_id, "done", "failed", timeout=WAIT * 2)
    assert done["state"] == "done", done
    wait_until(lambda: run_ended(done["log_path"], 1), WAIT, what="the end mark in the log")
    assert sc.COMPLETE_TEXT in Path(done["log_path"]).read_text(errors="replace")
    return done


def _start_exec(cli: Cli, work: Path, *args: str) -> int:
    task = cli.json("start", "--mode", "exec", "-C", str(work), *args, "[scenario:complete] go")
    return int(task["id"])


@e2e
@pytest.mark.parametrize("name", ["#(touch pwned-name)", "semi;", "x #{pane_id} ## %H;"])
def test_task_name_is_taken_literally(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, tmp_path: Path, name: str
) -> None:
    task_id = _start_exec(cli, codex_env.workdir(trusted=False), "-n", name)
    assert cli.task(task_id)["name"] == name
    # The monitor marks the window with the state: rename-window takes the name as is.
    _finish(cli, task_id)
    wait_until(lambda: _windows(server) == [f"✓ {name}"], WAIT, what="the done mark")
    assert cli.task(name)["id"] == task_id
    assert not _ran("pwned-name", tmp_path)


@e2e
def test_workdir_is_taken_literally(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, tmp_path: Path
) -> None:
    work = codex_env.workdir("w #(touch pwned-dir) #{pane_id} %H ;x;")
    task = cli.json("start", "--mode", "tui", "-C", str(work), "[scenario:complete] go")
    idle = cli.wait_state(task["id"], "idle", timeout=WAIT * 2)
    assert idle["workdir"] == str(work)
    # The window started in the workdir: the shim (the pane's process) runs there.
    shim = stored(cli, task["id"])["shim_pid"]
    assert os.readlink(f"/proc/{shim}/cwd") == str(work)
    assert not _ran("pwned-dir", tmp_path)
    cli.run("kill", str(task["id"]))


def _config(cli: Cli, tmp_path: Path, session: str) -> Path:
    path = tmp_path / "tmux-codex.toml"
    path.write_text(f"[tmux]\nsession = {json.dumps(session)}\n", encoding="utf-8")
    cli.env["TMUX_CODEX_CONFIG"] = str(path)
    return path


@e2e
def test_session_name_is_taken_literally(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, tmp_path: Path
) -> None:
    session = "s#(touch pwned-session) #{pane_id} %H;"
    _config(cli, tmp_path, session)
    work = codex_env.workdir(trusted=False)
    first = _start_exec(cli, work, "-n", "first")
    _finish(cli, first)
    # The second task finds the session by its name and joins it.
    second = _start_exec(cli, work, "-n", "second")
    _finish(cli, second)
    assert _sessions(server) == [session]
    assert not _ran("pwned-session", tmp_path)


@e2e
@pytest.mark.parametrize(
    "session", ["a\\b", "$1", "a$HOME", "s\x1bx", "s\x85x", "s\tx", "a.b", "a:b"]
)
def test_session_names_tmux_would_change_are_refused(
    cli: Cli, server: libtmux.Server, tmp_path: Path, session: str
) -> None:
    path = _config(cli, tmp_path, session)
    proc = cli.run("start", "-C", str(tmp_path), "hi", check=False)
    assert proc.returncode == 2
    line = _one_line(proc)
    assert str(path) in line and "[tmux] session" in line
    cli.env["TMUX_CODEX_CONFIG"] = str(tmp_path / "no-config.toml")
    _nothing_made(cli, server)


@e2e
def test_home_path_is_taken_literally(
    cli: Cli, codex_env: CodexEnv, server: libtmux.Server, tmp_path: Path
) -> None:
    # No braces: the store makes the log path with str.format (a separate bug).
    home = tmp_path / "home #(touch pwned-home) ## # #[x] % %H 'q' ;x"
    cli.env["TMUX_CODEX_HOME"] = str(home)
    cli.home = home
    task_id = _start_exec(cli, codex_env.workdir(trusted=False), "-n", "homed")
    done = _finish(cli, task_id)
    assert Path(done["log_path"]).parent == home / "logs"
    assert not _ran("pwned-home", tmp_path)


@e2e
@pytest.mark.parametrize("name", ["a\rb", "a\nb", "a\x1b[31mb", "a\x85b", "a\x7fb", "a\tb"])
def test_names_with_control_characters_are_refused(
    cli: Cli, server: libtmux.Server, tmp_path: Path, name: str
) -> None:
    proc = cli.run("start", "-C", str(tmp_path), "-n", name, "hi", check=False)
    assert proc.returncode == 2
    assert "control character" in _one_line(proc)
    _nothing_made(cli, server)


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    line: str = lines[0]
    return line


def _nothing_made(cli: Cli, server: libtmux.Server) -> None:
    assert cli.json("list", "--all") == []
    assert _windows(server) == []
    logs = cli.home / "logs"
    assert not logs.exists() or list(logs.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["a\x00b", "a\rb", "a\nb", "\x1b", "a\x7f", "a\x80", "a\x9fb", "a\u2028b", "a\xa0b"]
)
def test_validate_refuses_control_and_odd_whitespace(tmp_path: Path, name: str) -> None:
    with pytest.raises(BadInput, match="invalid task name") as info:
        validate(StartRequest("hi", str(tmp_path), name), Config())
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["semi;", "#(x)", "a b", "ünï", "x%H"])
def test_validate_keeps_odd_but_harmless_names(tmp_path: Path, name: str) -> None:
    validate(StartRequest("hi", str(tmp_path), name), Config())


# -- notifications ----------------------------------------------------------------------


@pytest.fixture
def notifier() -> Iterator[Notifier]:
    made = Notifier(NotifyConfig(tmux=True))
    yield made
    made.close(timeout=5.0)


def test_notifications_show_text_literally(
    server: libtmux.Server,
    session: libtmux.Session,
    client: Client,
    notifier: Notifier,
    tmp_path: Path,
) -> None:
    tmux = Tmux(str(server.socket_name))
    window = session.new_window(window_name="plain", attach=False)
    assert window.window_id is not None
    name = f"{_touch(tmp_path / 'ran')} 100%H #{{pane_id}};"
    task = Task(
        id=3,
        name=name,
        state="working",
        mode="tui",
        workdir=str(tmp_path),
        argv=["codex"],
        created_at="2024-01-01T00:00:00.000000Z",
        updated_at="2024-01-01T00:00:00.000000Z",
        log_path=str(tmp_path / "3.log"),
        tmux_socket=str(server.socket_name),
        window_id=window.window_id,
    )
    event = Event(
        task=3,
        at="2024-01-01T00:00:01.000000Z",
        from_state="working",
        to_state="waiting",
        reason="approval",
        detail="echo %% #(id) ;",
    )
    notifier.state_changed(task, event)
    text = message(task, event)
    wait_until(
        lambda: any(line.endswith(f"message: {text}") for line in tmux.run("show-messages")),
        WAIT,
        what="the message in tmux's message log",
    )
    fmt = "#{window_name}"
    shown = tmux.run("display-message", "-p", "-t", window.window_id, fmt)
    assert shown == [f"! {name}"]
    assert not (tmp_path / "ran").exists()
