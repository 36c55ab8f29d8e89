"""Bad input a user (or their environment) can give: one clear line, exit 2, nothing
created; and text from the model never reaches the terminal raw."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import libtmux
import pytest

from tests.conftest import Cli
from tests.test_cli_e2e import _nothing_changed, _one_line
from tmux_codex.core.models import Task
from tmux_codex.core.store import Store


def run_bytes(cli: Cli, *args: bytes) -> subprocess.CompletedProcess[str]:
    """tmux-codex with raw bytes in argv, as a shell passes them."""
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"tmux_codex", *args],
        env={k.encode(): v.encode() for k, v in cli.env.items()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        [b"start", b"-C", b".", b"caf\xe9 au lait"],
        [b"start", b"-C", b".", b"-n", b"n\xff", b"hi"],
        [b"start", b"-C", b"/tmp/\xfe", b"hi"],
        [b"show", b"\xff"],
    ],
    ids=["prompt", "name", "workdir", "task"],
)
def test_arguments_that_are_not_utf8(cli: Cli, server: libtmux.Server, args: list[bytes]) -> None:
    proc = run_bytes(cli, *args)
    assert proc.returncode == 2 and "is not UTF-8 text" in _one_line(proc)
    _nothing_changed(cli, server)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "99999999999999999999999"], "task ids are at most"),
        (["start", "-C", ".", "-n", "cr\rx", "hi"], "control character"),
        (["start", "-C", ".", "-n", "esc\x1b[31m", "hi"], "control character"),
        (["start", "-C", ".", "-n", "c1\x9bx", "hi"], "control character"),
        (["start", "-C", ".", "-n", "nl\nx", "hi"], "control character"),
    ],
)
def test_more_bad_input(cli: Cli, server: libtmux.Server, args: list[str], message: str) -> None:
    proc = cli.run(*args, check=False)
    assert proc.returncode == 2 and message in _one_line(proc), proc.stderr
    assert "\x1b" not in proc.stderr
    _nothing_changed(cli, server)


def test_bad_config_files(cli: Cli, server: libtmux.Server, tmp_path: Path) -> None:
    config = tmp_path / "deep.toml"
    config.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    proc = cli.run("list", check=False, env={"TMUX_CODEX_CONFIG": str(config)})
    assert proc.returncode == 2 and "nests arrays or tables too deeply" in _one_line(proc)
    for value in ('"10000000000s"', "1e300", '"800h"'):
        config.write_text(f"[monitor]\nstall_after = {value}\n")
        proc = cli.run("list", check=False, env={"TMUX_CODEX_CONFIG": str(config)})
        assert proc.returncode == 2 and "at most 30 days" in _one_line(proc), value
    _nothing_changed(cli, server)


def test_a_corrupt_store_is_named(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "corrupt-home"
    home.mkdir(mode=0o700)
    (home / "tasks.db").write_bytes(b"this is not a database, it is a text file\n" * 100)
    before = (home / "tasks.db").read_bytes()
    proc = cli.run("list", check=False, env={"TMUX_CODEX_HOME": str(home)})
    line = _one_line(proc)
    assert proc.returncode == 2 and str(home / "tasks.db") in line and "move it away" in line
    assert (home / "tasks.db").read_bytes() == before


def test_a_read_only_state_directory(cli: Cli, tmp_path: Path) -> None:
    """A state directory on a read-only file system (root ignores file modes, so a mount
    in a private mount namespace stands for it)."""
    home = tmp_path / "ro"
    home.mkdir()
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("needs unshare -m (root) to mount a read-only file system")
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {shlex.quote(str(home))} && "
        f"chmod 700 {shlex.quote(str(home))} && "
        f"{shlex.quote(sys.executable)} -m tmux_codex list >/dev/null && "  # the store exists
        f"mount -o remount,ro {shlex.quote(str(home))} && "
        f"exec {shlex.quote(sys.executable)} -m tmux_codex list"
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        env={**cli.env, "TMUX_CODEX_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "read-only" in _one_line(proc).lower()


def ended_task(cli: Cli, tmp_path: Path, name: str, **fields: str) -> Task:
    """A task on record that has ended (no tmux, no Codex needed)."""
    with Store(cli.home) as store:
        values = {"state": "done", "mode": "exec", "workdir": str(tmp_path), "argv": []}
        values["log_path"] = str(tmp_path / f"{name}.log")
        return store.add_task({**values, **fields}, name, name)


def test_an_unreadable_log(cli: Cli, tmp_path: Path) -> None:
    task = ended_task(cli, tmp_path, "gone", log_path=str(tmp_path / "a-directory-not-a-log"))
    (tmp_path / "a-directory-not-a-log").mkdir()
    for args in (["log", "gone"], ["log", "gone", "--limit", "10"], ["log", "gone", "--raw"]):
        proc = cli.run(*args, check=False)
        assert proc.returncode == 1 and "cannot read the log of task" in _one_line(proc), args
    assert task.id == 1


def test_model_text_reaches_the_terminal_without_escapes(cli: Cli, tmp_path: Path) -> None:
    hostile = "done\x1b]52;c;cHduZWQ=\x07 \x1b]0;title\x07\x1b[2J\x9b31m\x07!"
    task = ended_task(cli, tmp_path, "hostile", last_message=hostile, prompt_text=hostile)
    with Store(cli.home) as store:
        store.audit(task.id, hostile)
    for args in (["show", "hostile"], ["events"], ["list", "--all"]):
        out = cli.run(*args).stdout
        assert not any(c in out for c in "\x1b\x07\x9b"), (args, out)
    # Shown, not hidden: what bash or the terminal would get is there to read.
    assert "done␛]52;c;cHduZWQ=␇ ␛]0;title␇␛[2J\\x9b31m␇!" in cli.run("show", "hostile").stdout
