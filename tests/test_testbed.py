"""The test bed itself: the real Codex CLI reaches each scenario's screens.

Every capture in ``tests/captures.py`` is played against the real, pinned
Codex in a tmux pane on a private server; each step waits by polling with a
timeout. The committed fixtures are checked for completeness too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import libtmux
import pytest

from tests.captures import (
    CAPTURES,
    Capture,
    Snap,
    argv_for,
    by_name,
    fixture_dir,
    load_fixture,
    play,
)
from tests.codexbed import CodexEnv, CodexPane, captured_versions, wait_until
from tmux_codex.sim import FakeModelServer
from tmux_codex.sim import scenarios as sc

StartPane = Callable[..., CodexPane]

pytestmark = pytest.mark.e2e


def start(capture: Capture, codex_env: CodexEnv, codex_pane: StartPane) -> tuple[CodexPane, Path]:
    workdir = codex_env.workdir(git=capture.git, trusted=capture.trusted)
    pane = codex_pane(
        argv_for(capture, codex_env, workdir),
        workdir,
        width=capture.width,
        height=capture.height,
        stdin_devnull=capture.mode == "exec",
    )
    return pane, workdir


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.name for c in CAPTURES])
def test_real_codex_reaches_every_state(
    capture: Capture, codex_env: CodexEnv, codex_pane: StartPane, fake_model: FakeModelServer
) -> None:
    pane, workdir = start(capture, codex_env, codex_pane)
    snapped = play(capture, pane)
    assert snapped == [s.name for s in capture.steps if isinstance(s, Snap)]
    for name, content in capture.files:
        assert (workdir / name).read_text() == content
    assert fake_model.turns(), "Codex never asked the fake model"
    if capture.mode == "tui":
        # Codex's private state escape is in the raw bytes (tmux drops it).
        assert b"\x1b]7501;state=" in pane.raw()


def test_exec_make_file_writes_in_the_workdir(codex_env: CodexEnv) -> None:
    workdir = codex_env.workdir()
    result = codex_env.run_exec(workdir, "[scenario:make-file] write the file")
    assert result.returncode == 0, result.stderr
    assert (workdir / sc.MAKE_FILE_NAME).read_text() == "made-by-codex\n"
    assert sc.MAKE_FILE_DONE in result.stdout


def test_exec_http_400_fails(codex_env: CodexEnv) -> None:
    result = codex_env.run_exec(codex_env.workdir(), "[scenario:http-400] x")
    assert result.returncode != 0
    assert "scenario http-400" in result.stderr


def test_fake_model_sees_prompt_and_tool_output(
    codex_env: CodexEnv, codex_pane: StartPane, fake_model: FakeModelServer
) -> None:
    capture = by_name("tui-approval-exec")
    pane, _ = start(capture, codex_env, codex_pane)
    play(capture, pane)
    turns = fake_model.turns()
    assert [(t["scenario"], t["step"]) for t in turns] == [
        ("approval-exec", 0),
        ("approval-exec", 1),
    ]
    texts = [json.dumps(t["body"]["input"]) for t in turns]
    assert "[scenario:approval-exec] please do the task" in texts[0]
    outputs = [i for i in turns[1]["body"]["input"] if i.get("type") == "function_call_output"]
    assert len(outputs) == 1 and "exited with code 0" in outputs[0]["output"]
    # The TUI asks for a title on the side, in its own time.
    wait_until(
        lambda: any(r["kind"] == "title" for r in fake_model.requests()), 30, what="the title"
    )


def test_prompt_reaches_the_model_byte_exact(
    codex_env: CodexEnv, fake_model: FakeModelServer
) -> None:
    prompt = "[scenario:complete] quotes ' \" $(touch pwned) `id` \\ ünïcødé ✓\nsecond line\ttab"
    workdir = codex_env.workdir()
    result = codex_env.run_exec(workdir, prompt)
    assert result.returncode == 0, result.stderr
    users = [i for i in fake_model.turns()[0]["body"]["input"] if i.get("role") == "user"]
    assert users[-1]["content"][0]["text"] == prompt
    assert not (workdir / "pwned").exists()


def test_exec_resume_sends_the_earlier_conversation(
    codex_env: CodexEnv, fake_model: FakeModelServer
) -> None:
    workdir = codex_env.workdir()
    first = codex_env.run_exec(workdir, "[scenario:complete] remember the word PELICAN")
    assert first.returncode == 0, first.stderr
    match = re.search(r"session id: ([0-9a-f-]{36})", first.stderr)
    assert match, first.stderr
    resumed = codex_env.run_exec_resume(workdir, match.group(1), "[scenario:complete] go on")
    assert resumed.returncode == 0, resumed.stderr
    last = json.dumps(fake_model.turns()[-1]["body"]["input"])
    assert "remember the word PELICAN" in last and sc.COMPLETE_TEXT in last
    assert "[scenario:complete] go on" in last


@pytest.mark.parametrize("version", captured_versions())
def test_committed_fixtures_cover_every_capture(version: str) -> None:
    for capture in CAPTURES:
        base = fixture_dir(capture, version)
        # Each folder holds the screens of the version it is named after.
        raw_log = (base / "raw.log").read_bytes()
        assert f"v{version}".encode() in raw_log, capture.name
        for snap in (s for s in capture.steps if isinstance(s, Snap)):
            screen, meta, raw = load_fixture(capture.name, snap.name, version)
            assert meta["expect"] == {"state": snap.state, "reason": snap.reason}
            assert screen.strip() and raw, (capture.name, snap.name)
            assert meta["width"] == capture.width


@pytest.mark.parametrize("version", captured_versions())
@pytest.mark.parametrize(
    ("capture", "state", "text"),
    [
        ("tui-approval-exec", "waiting", "Would you like to run the following command?"),
        ("tui-approval-patch", "waiting", "Would you like to make the following edits?"),
        ("tui-ask-user", "waiting", "Question 1/1 (1 unanswered)"),
        ("tui-trust", "waiting", "Trust this folder?"),
        ("tui-http-400", "error", "■"),
        ("tui-exit", "done", "codex resume"),
    ],
)
def test_fixture_screens_show_their_state(
    capture: str, state: str, text: str, version: str
) -> None:
    screen, meta, _ = load_fixture(capture, state, version)
    assert text in screen
    if meta["expect"] == {"state": "waiting", "reason": "approval"}:
        assert "Action Required" in str(meta["pane_title"])


def test_window_size_is_applied_before_codex_starts(
    codex_env: CodexEnv, codex_pane: StartPane, session: libtmux.Session
) -> None:
    pane = codex_pane(codex_env.tui_argv(None), codex_env.workdir(), width=80, height=24)
    pane.wait_screen("Ask Codex to do anything")
    assert pane.fmt("#{pane_width}x#{pane_height}") == "80x24"
    first = pane.raw()[:200]
    assert first, "pipe-pane caught nothing"
