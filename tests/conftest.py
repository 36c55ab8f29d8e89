"""Fixtures: a fake model server, an isolated Codex, and Codex in tmux panes.

libtmux's pytest plugin provides ``server`` and ``session``: a real tmux
server on a private socket per test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest

from tests.codexbed import CodexEnv, CodexPane, CodexUnavailable, find_or_install_codex, run_in_pane
from tmux_codex.sim import FakeModelServer

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
