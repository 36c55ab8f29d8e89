"""Fixtures: a fake model server, an isolated Codex, and Codex in tmux panes.

libtmux's pytest plugin provides ``server`` and ``session``: a real tmux
server on a private socket per test.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libtmux
import pytest

from tests.codexbed import (
    CodexEnv,
    CodexPane,
    CodexUnavailable,
    find_or_install_codex,
    run_in_pane,
    wait_until,
)
from tmux_codex.sim import FakeModelServer
from tmux_codex.tmux.server import Tmux

_codex: dict[str, object] = {}


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    """The pinned Codex CLI, installed on first use; fails (never skips) if it cannot be."""
    if "bin" not in _codex:
        try:
            _codex["bin"] = find_or_install_codex()
        except CodexUnavailable as exc:
            _codex["bin"] = exc
    found = _codex["bin"]
    if isinstance(found, Exception):
        pytest.fail(str(found), pytrace=False)
    assert isinstance(found, Path)
    return found


@pytest.fixture
def fake_model(tmp_path: Path) -> Iterator[FakeModelServer]:
    """The scripted fake model server on a free loopback port."""
    with FakeModelServer(0, request_log=tmp_path / "model-requests.jsonl") as server:
        yield server


@pytest.fixture
def codex_env(tmp_path: Path, codex_bin: Path, fake_model: FakeModelServer) -> CodexEnv:
    """An isolated CODEX_HOME pointing at ``fake_model``; make workdirs with ``.workdir()``."""
    return CodexEnv(
        binary=codex_bin,
        home=tmp_path / "codex-home",
        base_url=fake_model.base_url,
        root=tmp_path / "work",
    )


@pytest.fixture
def codex_pane(session: libtmux.Session, codex_env: CodexEnv, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start a Codex command in a pane of the test's tmux session."""
    count = [0]

    def start(
        argv: list[str], cwd: Path, width: int = 120, height: int = 40, stdin_devnull: bool = False
    ) -> CodexPane:
        count[0] += 1
        return run_in_pane(
            session,
            argv,
            env={**codex_env.env, "PATH": os.environ["PATH"]},
            cwd=cwd,
            raw_log=tmp_path / f"pane-{count[0]}.raw",
            width=width,
            height=height,
            stdin_devnull=stdin_devnull,
        )

    return start


@pytest.fixture
def shim() -> Iterator[int]:
    """A process that looks like a task's shim (its argv names the shim module)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()", "tmux_codex.tasks.shim"],
        stdin=subprocess.PIPE,
    )
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


class Cli:
    """Runs ``tmux-codex`` as a user would, in its own process."""

    def __init__(self, env: dict[str, str], home: Path, socket: str) -> None:
        self.env = env
        self.home = home
        self.socket = socket

    def run(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "tmux_codex", *args],
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"tmux-codex {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def json_lines(self, *args: str) -> list[Any]:
        return [json.loads(line) for line in self.run(*args).stdout.splitlines() if line]

    def task(self, ref: str | int) -> dict[str, Any]:
        found: dict[str, Any] = self.json("show", str(ref))
        return found

    def wait_state(self, ref: str | int, *states: str, timeout: float = 60) -> dict[str, Any]:
        seen: list[dict[str, Any]] = [{}]

        def check() -> bool:
            seen[0] = self.task(ref)
            return seen[0]["state"] in states

        try:
            wait_until(check, timeout, interval=0.2, what=f"task {ref} to be {'/'.join(states)}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen: {seen[0]}") from None
        return seen[0]


@pytest.fixture
def cli(codex_env: CodexEnv, server: libtmux.Server, tmp_path: Path) -> Iterator[Cli]:
    """tmux-codex with its own home, on the test's private tmux server, with the test Codex.

    A monitor that ``start`` launched is stopped when the test ends.
    """
    home = tmp_path / "tmux-codex-home"
    socket = str(server.socket_name)
    env = {
        **os.environ,
        **codex_env.env,
        "TMUX_CODEX_HOME": str(home),
        "TMUX_CODEX_SOCKET": socket,
        "TMUX_CODEX_CONFIG": str(tmp_path / "no-config.toml"),
        "PATH": f"{codex_env.binary.parent}{os.pathsep}{os.environ['PATH']}",
    }
    for var in ("TMUX", "TMUX_PANE", "TMUX_CODEX_DEBUG", "TMUX_CODEX_CODEX"):
        env.pop(var, None)
    runner = Cli(env, home, socket)
    try:
        yield runner
    finally:
        runner.run("monitor", "--stop", check=False)


# -- a person at a terminal ---------------------------------------------------------


@dataclass
class Client:
    """A tmux client attached through a pseudo-terminal; ``output`` is what it was sent."""

    proc: subprocess.Popen[bytes]
    master: int  # the terminal's other end: write keys here, as a person types
    output: bytearray = field(default_factory=bytearray)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def seen(self, text: str) -> bool:
        return text.encode() in self.output


@contextmanager
def attached_client(
    server: libtmux.Server, session: libtmux.Session, columns: int, rows: int
) -> Iterator[Client]:
    """A tmux client attached to ``session`` on a ``columns``×``rows`` pseudo-terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        ["tmux", "-L", str(server.socket_name), "attach-session", "-t", str(session.session_id)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    attached = Client(proc, master)

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            attached.output.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    tmux = Tmux(str(server.socket_name))
    try:
        wait_until(lambda: bool(tmux.run("list-clients", check=False)), 30, what="the client")
        yield attached
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        os.close(master)
        reader.join(30)


@pytest.fixture
def client(server: libtmux.Server, session: libtmux.Session) -> Iterator[Client]:
    """A person's tmux client, attached to ``session`` on a 100×24 terminal."""
    with attached_client(server, session, 100, 24) as attached:
        yield attached
