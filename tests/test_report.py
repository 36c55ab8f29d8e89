"""``report``: files changed (real git repositories), tests parsed (real runner output),
tokens and last message (real Codex rollouts and logs).

The outputs under ``tests/fixtures/test-output/`` were produced by running each
runner for real; see the README there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tmux_codex.codex.sessions import find_rollout
from tmux_codex.codex.tokens import Tokens, parse_tokens
from tmux_codex.codex.transcript import render
from tmux_codex.core.models import Task
from tmux_codex.report.changes import FileChange, changed_files
from tmux_codex.report.failure import error_message, log_error
from tmux_codex.report.rollout import log_session_id, read_rollout, rollout_facts
from tmux_codex.report.runners import parse_tests
from tmux_codex.report.summary import Report, build
from tmux_codex.report.testrun import TestRun
from tmux_codex.report.text import render_text

OUTPUTS = Path(__file__).parent / "fixtures" / "test-output"

# Sessions of the real rollout fixtures (their session_meta says so).
MAKE_FILE_SESSION = "01a20cc3-7e5d-7c53-8271-7466a104418e"
EXEC_TESTS_SESSION = "01a20cc3-d9b8-75d1-83bb-7390c13fa595"
TUI_TESTS_SESSION = "01a20cc5-2270-70d0-8a29-e36ef88ef14b"
HTTP_400_SESSION = "01a22a8b-fb37-7691-ac2a-596280d9b7e1"
ERROR_THEN_OK_SESSION = "01a22a8c-05ba-7e42-bcf7-e32e39bcc42e"
ROLLOUT_NAMES = {
    MAKE_FILE_SESSION: ("rollout-exec-make-file.jsonl", "2026-11-24T08-54-28"),
    EXEC_TESTS_SESSION: ("rollout-exec-tests.jsonl", "2026-11-24T08-54-51"),
    TUI_TESTS_SESSION: ("rollout-tui-tests.jsonl", "2026-11-24T08-56-15"),
    HTTP_400_SESSION: ("rollout-exec-http-400.jsonl", "2026-11-30T03-42-26"),
    ERROR_THEN_OK_SESSION: ("rollout-tui-error-then-ok.jsonl", "2026-11-30T03-42-29"),
}
#: What the fake model server answers in scenario http-400 (its error's message).
HTTP_400_MESSAGE = "The fake model server rejected the request (scenario http-400)."
CAPTURES = OUTPUTS.parent / "codex-0.169.0"

Counts = tuple[str, int | None, int, int | None, int, bool]


def counts(runs: list[TestRun]) -> list[Counts]:
    return [(r.runner, r.passed, r.failed, r.skipped, r.errors, r.ok) for r in runs]


def read(name: str) -> str:
    return (OUTPUTS / name).read_text(encoding="utf-8")


def rendered(name: str, width: int, height: int) -> str:
    """A raw pane log rendered as ``tasks.read_log`` renders it."""
    return render((OUTPUTS / name).read_bytes(), width, height)


# -- test summaries: real output of each runner ----------------------------------------

PYTEST_FAIL: Counts = ("pytest", 1, 1, 2, 1, False)  # 1 skipped + 1 xfailed; 1 error
JEST_FAIL: Counts = ("jest", 4, 1, 2, 1, False)  # 1 skipped + 1 todo; a suite that did not load
CARGO_FAIL: Counts = ("cargo", 2, 1, 1, 0, False)

RUNNER_OUTPUTS: dict[str, list[Counts]] = {
    "pytest-pass.txt": [("pytest", 3, 0, 1, 0, True)],
    "pytest-pass-quiet.txt": [("pytest", 3, 0, 1, 0, True)],
    "pytest-pass-verbose.txt": [("pytest", 3, 0, 1, 0, True)],
    "pytest-fail.txt": [PYTEST_FAIL],
    "pytest-fail-quiet.txt": [PYTEST_FAIL],
    "pytest-fail-color.txt": [PYTEST_FAIL],
    "pytest-deselected.txt": [("pytest", 0, 0, 0, 0, False)],  # nothing ran: pytest exits 5
    "unittest-ok.txt": [("unittest", 2, 0, 1, 0, True)],
    "unittest-ok-verbose.txt": [("unittest", 2, 0, 1, 0, True)],
    # Ran 5: failures=1, errors=1, skipped=1, expected failures=1
    "unittest-fail.txt": [("unittest", 1, 1, 2, 1, False)],
    # three test binaries (unit, integration, doc-tests): one run
    "cargo-test-pass.txt": [("cargo", 5, 0, 1, 0, True)],
    "cargo-test-pass-quiet.txt": [("cargo", 5, 0, 1, 0, True)],
    "cargo-test-fail.txt": [CARGO_FAIL],
    "cargo-test-fail-color.txt": [CARGO_FAIL],
    # without -v go lists failing tests only: passed and skipped are unknown
    "go-test-pass.txt": [("go", None, 0, None, 0, True)],
    "go-test-pass-cached.txt": [("go", None, 0, None, 0, True)],
    "go-test-pass-verbose.txt": [("go", 3, 0, 1, 0, True)],
    "go-test-fail.txt": [("go", None, 2, None, 0, False)],
    "go-test-fail-verbose.txt": [("go", 1, 2, 1, 0, False)],  # subtests do not count
    "go-test-build-failed.txt": [("go", None, 0, None, 1, False)],
    "jest-pass.txt": [("jest", 3, 0, 2, 0, True)],
    "jest-fail.txt": [JEST_FAIL],
    "jest-fail-color.txt": [JEST_FAIL],
    "npm-test-jest-pass.txt": [("jest", 3, 0, 2, 0, True)],
    "npm-test-jest-fail.txt": [JEST_FAIL],
    "vitest-pass.txt": [("vitest", 3, 0, 2, 0, True)],
    "vitest-fail.txt": [("vitest", 4, 1, 2, 1, False)],
    "vitest-fail-color.txt": [("vitest", 4, 1, 2, 1, False)],
    "vitest-errors.txt": [("vitest", 2, 0, 0, 1, False)],  # an unhandled error fails the run
    "npm-test-vitest-fail.txt": [("vitest", 4, 1, 2, 1, False)],
    "mocha-pass.txt": [("mocha", 1, 0, 0, 0, True)],
    "mocha-fail.txt": [("mocha", 2, 1, 1, 0, False)],
    "node-test-pass.txt": [("node", 1, 0, 1, 0, True)],
    "node-test-fail.txt": [("node", 2, 1, 3, 0, False)],  # TAP: 2 skipped + 1 todo
    "node-test-fail-spec.txt": [("node", 2, 1, 3, 0, False)],
}


def test_every_runner_output_fixture_is_covered() -> None:
    on_disk = {p.name for p in OUTPUTS.glob("*.txt")}
    assert on_disk == set(RUNNER_OUTPUTS)


@pytest.mark.parametrize("name", sorted(RUNNER_OUTPUTS))
def test_runner_output(name: str) -> None:
    runs = parse_tests(read(name))
    assert counts(runs) == RUNNER_OUTPUTS[name]
    for run in runs:
        assert "\x1b" not in run.summary
        assert run.summary == run.summary.strip()


def test_summaries_are_the_lines_as_printed() -> None:
    assert [r.summary for r in parse_tests(read("pytest-fail-quiet.txt"))] == [
        "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error in 1.34s"
    ]
    cargo = parse_tests(read("cargo-test-pass.txt"))[0].summary.splitlines()
    assert len(cargo) == 3
    assert all(line.startswith("test result: ok. ") for line in cargo)
    assert parse_tests(read("unittest-fail.txt"))[0].summary == (
        "Ran 5 tests in 0.001s\nFAILED (failures=1, errors=1, skipped=1, expected failures=1)"
    )
    assert parse_tests(read("jest-pass.txt"))[0].summary == (
        "Test Suites: 2 passed, 2 total\nTests:       1 skipped, 1 todo, 3 passed, 5 total"
    )
    go = parse_tests(read("go-test-fail.txt"))[0].summary.splitlines()
    assert go == [
        "FAIL\texample.com/gocalc\t0.002s",
        "?   \texample.com/gocalc/empty\t[no test files]",
        "FAIL\texample.com/gocalc/other\t0.002s",
    ]


def test_runs_come_in_order_and_each_once() -> None:
    text = "\n".join(
        read(name)
        for name in (
            "pytest-pass.txt",
            "npm-test-jest-fail.txt",
            "go-test-pass.txt",
            "mocha-fail.txt",
        )
    )
    assert [r.runner for r in parse_tests(text)] == ["pytest", "jest", "go", "mocha"]


def test_no_summary_no_run() -> None:
    prose = (
        "All 3 tests passed and nothing failed.\n"
        "I ran pytest: it said the tests passed.\n"
        "Ran 3 tests in 0.1s\n"  # unittest, but its outcome line is not there
        "+2 lines (^t to view transcript)\n"
        "ok  this is fine\n"
        "test result: pending\n"
    )
    assert parse_tests(prose) == []
    assert parse_tests("") == []


def test_wrapped_summary_lines_are_joined() -> None:
    word_wrapped = (
        "• Ran pytest\n  └ ============ 2 failed, 10 passed, 1\n    skipped in 3.20s ============\n"
    )
    assert counts(parse_tests(word_wrapped)) == [("pytest", 10, 2, 1, 0, False)]
    hard_wrapped = "test result: ok. 12 pass\ned; 0 failed; 3 ignored; 0 measured; 0 filtered out\n"
    assert counts(parse_tests(hard_wrapped)) == [("cargo", 12, 0, 3, 0, True)]


def test_cargo_invocations_are_separate_runs() -> None:
    quiet = read("cargo-test-pass-quiet.txt")
    # two `cargo test -q` runs, told apart by the command between them
    text = f"exec\n/bin/bash -c 'cargo test -q' in /p\n succeeded in 10ms:\n{quiet}\n" * 2
    assert counts(parse_tests(text)) == [("cargo", 5, 0, 1, 0, True)] * 2
    # without -q every invocation starts with cargo's "Finished … target(s) in"
    text = read("cargo-test-pass.txt") + read("cargo-test-fail.txt")
    assert counts(parse_tests(text)) == [("cargo", 5, 0, 1, 0, True), CARGO_FAIL]


# -- test summaries inside real Codex logs ------------------------------------------------


def test_exec_log() -> None:
    """``codex exec`` in a tmux pane prints each command's whole output."""
    text = rendered("codex-exec-tests.raw", 120, 40)
    assert counts(parse_tests(text)) == [
        PYTEST_FAIL,
        CARGO_FAIL,
        JEST_FAIL,
        ("go", None, 1, None, 0, False),
    ]
    assert parse_tokens(text) == Tokens(input=None, output=None, total=6400)
    assert log_session_id(text) == "01a20cc8-7f43-76a2-a25a-c57f849a05c9"


def test_tui_log_shows_short_outputs_after_the_gutter() -> None:
    text = rendered("codex-tui-tests.raw", 120, 40)
    assert "  └ " in text
    # unittest's outcome is cut off ("+2 lines"): that run is left out
    assert counts(parse_tests(text)) == [
        ("pytest", 3, 0, 1, 0, True),
        ("go", None, 0, None, 0, True),
        CARGO_FAIL,
    ]
    assert parse_tokens(text) == Tokens(6000, 400, 6400, cached_input=0, reasoning_output=0)
    assert log_session_id(text) == "01a20cc5-be83-7721-a49e-0d845fa9674d"


def test_tui_log_80_columns_wraps_summaries() -> None:
    text = rendered("codex-tui-tests-80x24.raw", 80, 24)
    assert "0 filtered\n    out; finished" in text
    runs = parse_tests(text)
    assert counts(runs) == [PYTEST_FAIL, CARGO_FAIL, ("jest", 4, 1, 2, 0, False)]
    assert (
        runs[0].summary == "========== 1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error in 1.00s"
    )


def test_tui_log_hides_long_outputs_but_the_rollout_has_them() -> None:
    text = rendered("codex-tui-tests-hidden.raw", 120, 40)
    assert "+27 lines (^t to view transcript)" in text
    assert parse_tests(text) == []
    assert log_session_id(text) == TUI_TESTS_SESSION
    _tokens, _message, outputs = rollout_facts(OUTPUTS / "rollout-tui-tests.jsonl")
    runs = [run for output in outputs for run in parse_tests(output)]
    assert counts(runs) == [PYTEST_FAIL, CARGO_FAIL, JEST_FAIL, ("go", None, 1, None, 0, False)]


# -- tokens from log text ----------------------------------------------------------------


def test_parse_tokens_formats() -> None:
    line = "Token usage: total=100,117 input=90,506 (+ 3,008,512 cached) output=9,611"
    assert parse_tokens(line) == Tokens(3_099_018, 9_611, 3_108_629, 3_008_512, 0)
    line = "Token usage: total=12 input=10 output=2 (reasoning 1)"
    assert parse_tokens(line) == Tokens(10, 2, 12, 0, 1)
    assert parse_tokens("tokens used\n2,560\n") == Tokens(None, None, 2560)
    # the last one printed counts (a resumed session prints again)
    both = "tokens used\n100\nmore\nToken usage: total=300 input=200 output=100\n"
    assert parse_tokens(both) == Tokens(200, 100, 300, 0, 0)
    assert parse_tokens("no tokens here") is None


# -- the rollout ---------------------------------------------------------------------------


def codex_home_with(tmp_path: Path, *sessions: str, day: str = "2026/11/24") -> Path:
    home = tmp_path / "codex-home"
    for sid in sessions:
        name, stamp = ROLLOUT_NAMES[sid]
        folder = home / "sessions" / day
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(OUTPUTS / name, folder / f"rollout-{stamp}-{sid}.jsonl")
    return home


def test_rollout_token_count_shape() -> None:
    """The real rollout's last ``token_count``: ``info.total_token_usage`` holds the totals."""
    lines = (OUTPUTS / "rollout-exec-make-file.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert events[0]["type"] == "session_meta"
    assert events[0]["payload"]["id"] == MAKE_FILE_SESSION
    counts_ = [e["payload"] for e in events if e["payload"].get("type") == "token_count"]
    assert counts_[-1]["info"]["total_token_usage"] == {
        "input_tokens": 2400,
        "cached_input_tokens": 0,
        "cache_write_input_tokens": 0,
        "output_tokens": 160,
        "reasoning_output_tokens": 0,
        "total_tokens": 2560,
    }


def test_rollout_facts_make_file() -> None:
    tokens, message, outputs = rollout_facts(OUTPUTS / "rollout-exec-make-file.jsonl")
    assert tokens == Tokens(2400, 160, 2560, cached_input=0, reasoning_output=0)
    assert message == "Wrote made-by-codex.txt in the working directory."
    assert outputs == [""]  # echo … > file prints nothing


def test_rollout_facts_commands_outputs() -> None:
    tokens, message, outputs = rollout_facts(OUTPUTS / "rollout-exec-tests.jsonl")
    assert tokens == Tokens(6000, 400, 6400, cached_input=0, reasoning_output=0)
    assert message == "Ran 4 command(s); the test results are above."
    assert len(outputs) == 4
    assert outputs[0].startswith("=" * 29 + " test session starts")
    assert "test result: FAILED. 2 passed; 1 failed" in outputs[1]
    runs = [run for output in outputs for run in parse_tests(output)]
    assert counts(runs) == [PYTEST_FAIL, CARGO_FAIL, JEST_FAIL, ("go", None, 1, None, 0, False)]


def test_rollout_facts_cut_off_file(tmp_path: Path) -> None:
    """A rollout being written: the last line is half there."""
    lines = (OUTPUTS / "rollout-exec-tests.jsonl").read_text().splitlines(keepends=True)
    last_tokens = max(i for i, line in enumerate(lines) if '"token_count"' in line)
    part = tmp_path / "part.jsonl"
    part.write_text("".join(lines[:last_tokens]) + lines[last_tokens][:50] + "\nnot json\n")
    tokens, message, outputs = rollout_facts(part)
    assert tokens is not None and tokens.total == 5120  # the one before the last
    # task_complete is not written yet: the last assistant message recorded stands in
    assert message == "Ran 4 command(s); the test results are above."
    assert len(outputs) == 4
    assert rollout_facts(tmp_path / "missing.jsonl") == (None, None, [])


def test_rollout_facts_older_shapes(tmp_path: Path) -> None:
    """Without CommandExecution items: exec_command_end events, else shell tool outputs."""

    def write(name: str, entries: list[dict[str, object]]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(e) + "\n" for e in entries))
        return path

    pytest_line = "==== 2 passed in 0.10s ===="
    ended = write(
        "ended.jsonl",
        [
            {"type": "event_msg", "payload": {"type": "token_count", "info": None}},
            {
                "type": "event_msg",
                "payload": {"type": "exec_command_end", "call_id": "c1", "stdout": pytest_line},
            },
            {
                "type": "response_item",
                "payload": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Done."}],
                },
            },
        ],
    )
    tokens, message, outputs = rollout_facts(ended)
    assert (tokens, message, outputs) == (None, "Done.", [pytest_line])

    calls = write(
        "calls.jsonl",
        [
            {
                "type": "response_item",
                "payload": {"type": "function_call", "name": "exec_command", "call_id": "a"},
            },
            {
                "type": "response_item",
                "payload": {
                    "type": "function_call_output",
                    "call_id": "a",
                    "output": "Chunk ID: 1\nWall time: 0.1 seconds\nProcess exited with code 0\n"
                    f"Original token count: 9\nOutput:\n{pytest_line}\n",
                },
            },
            {
                "type": "response_item",
                "payload": {"type": "function_call", "name": "view_image", "call_id": "b"},
            },
            {
                "type": "response_item",
                "payload": {"type": "function_call_output", "call_id": "b", "output": "img"},
            },
        ],
    )
    assert rollout_facts(calls)[2] == [pytest_line + "\n"]


def test_read_rollout_is_rollout_facts_in_one_pass() -> None:
    for name in (
        "rollout-exec-tests.jsonl",
        "rollout-tui-tests.jsonl",
        "rollout-exec-make-file.jsonl",
    ):
        tokens, message, outputs = rollout_facts(OUTPUTS / name)
        summary = read_rollout(OUTPUTS / name)
        assert summary is not None
        assert (summary.tokens, summary.last_message) == (tokens, message)
        assert summary.tests == [run for output in outputs for run in parse_tests(output)]
        assert summary.outputs == len(outputs)
        assert summary.error is None and summary.turns == 1
    assert read_rollout(OUTPUTS / "missing.jsonl") is None


def test_read_rollout_errors(tmp_path: Path) -> None:
    # codex exec against an HTTP 400: the turn ended with the API's error, no tokens.
    failed = read_rollout(OUTPUTS / "rollout-exec-http-400.jsonl")
    assert failed is not None
    assert failed.error == HTTP_400_MESSAGE
    assert (failed.tokens, failed.last_message, failed.turns) == (None, None, 1)
    # The TUI: the first turn failed, the next one (a new message) went well.
    recovered = read_rollout(OUTPUTS / "rollout-tui-error-then-ok.jsonl")
    assert recovered is not None
    assert recovered.error is None and recovered.turns == 2
    assert recovered.tokens == Tokens(1200, 80, 1280, cached_input=0, reasoning_output=0)
    assert recovered.last_message == "All done: the fake model finished this task."
    # Cut after the first turn: its error; cut while the second runs: none yet.
    lines = (OUTPUTS / "rollout-tui-error-then-ok.jsonl").read_text().splitlines(keepends=True)
    ends = [i for i, line in enumerate(lines) if '"type":"task_complete"' in line]
    started = [i for i, line in enumerate(lines) if '"type":"task_started"' in line]
    for cut, error in ((ends[0] + 1, HTTP_400_MESSAGE), (started[1] + 1, None)):
        part = tmp_path / f"cut-{cut}.jsonl"
        part.write_text("".join(lines[:cut]))
        summary = read_rollout(part)
        assert summary is not None and summary.error == error


def test_error_message() -> None:
    body = '{"error": {"message": "Rate limit reached", "type": "requests", "code": null}}'
    assert error_message(body) == "Rate limit reached"
    assert error_message('{"message": "short form"}') == "short form"
    assert error_message("  stream disconnected before completion  ") == (
        "stream disconnected before completion"
    )
    assert error_message('{"error": "no message"}') == "no message"
    assert error_message("[1, 2]") == "[1, 2]"
    assert error_message("{not json") == "{not json"


@pytest.mark.parametrize(
    ("capture", "width", "height", "expected"),
    [
        ("exec-http-400", 120, 40, HTTP_400_MESSAGE),
        ("exec-http-400", 80, 24, HTTP_400_MESSAGE),  # wrapped by the terminal
        ("tui-http-400", 120, 40, HTTP_400_MESSAGE),  # wrapped by Codex
        ("tui-http-400", 80, 24, HTTP_400_MESSAGE),
        (
            "tui-hang",
            120,
            40,
            "stream disconnected before completion: idle timeout waiting for SSE",
        ),
        (
            "tui-close",
            80,
            24,
            "stream disconnected before completion: stream closed before response.completed",
        ),
        ("tui-complete", 120, 40, None),
        ("exec-complete", 120, 40, None),
    ],
)
def test_log_error_on_real_logs(
    capture: str, width: int, height: int, expected: str | None
) -> None:
    raw = (CAPTURES / capture / "raw.log").read_bytes()
    assert log_error(render(raw, width, height)) == expected


def test_log_error_only_counts_an_error_of_the_last_turn() -> None:
    raw = (CAPTURES / "tui-http-400" / "raw.log").read_bytes()
    text = render(raw, 120, 40)
    assert log_error(text + "\n\n• Fixed it.\n\n─ Worked for 3s ─────") is None
    assert log_error("ERROR: exec failed: no such file\nmore output") == "exec failed: no such file"
    assert (
        log_error("■ first\n\nmore\n■ second part\ncontinued\n\n› Ask") == "second part continued"
    )


def test_find_rollout(tmp_path: Path) -> None:
    home = codex_home_with(tmp_path, MAKE_FILE_SESSION, EXEC_TESTS_SESSION)
    found = find_rollout(home, EXEC_TESTS_SESSION)
    assert found is not None
    assert found.name == f"rollout-2026-11-24T08-54-51-{EXEC_TESTS_SESSION}.jsonl"
    assert find_rollout(home, EXEC_TESTS_SESSION.upper()) == found
    assert find_rollout(home, "01a20cc3-0000-7000-8000-000000000000") is None
    assert find_rollout(home, "not-a-session-id") is None
    assert find_rollout(tmp_path / "nowhere", EXEC_TESTS_SESSION) is None


def test_find_rollout_other_day_and_archived(tmp_path: Path) -> None:
    # a local-time day folder that is not the UTC day of the id
    home = codex_home_with(tmp_path, MAKE_FILE_SESSION, day="2026/11/25")
    assert find_rollout(home, MAKE_FILE_SESSION) is not None
    # far from the id's day, and archived
    archived = tmp_path / "other-home"
    (archived / "archived_sessions").mkdir(parents=True)
    name = f"rollout-2027-01-01T00-00-00-{TUI_TESTS_SESSION}.jsonl"
    shutil.copy(OUTPUTS / "rollout-tui-tests.jsonl", archived / "archived_sessions" / name)
    assert find_rollout(archived, TUI_TESTS_SESSION) == archived / "archived_sessions" / name


# -- files changed: real git repositories -----------------------------------------------------

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    return path


BINARY = bytes(range(256)) * 4


def test_changed_files_every_kind(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "keep.txt").write_text("unchanged\n")
    (repo / "staged.txt").write_text("one\ntwo\nthree\n")
    (repo / "unstaged.txt").write_text("a\n")
    (repo / "gone.txt").write_text("x\ny\n")
    (repo / "old_name.txt").write_text("moved\nas\nis\n")
    (repo / "logo.bin").write_bytes(BINARY)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    start = git(repo, "rev-parse", "HEAD")

    (repo / "committed.txt").write_text("new\nfile\n")  # a new file, committed
    git(repo, "add", "committed.txt")
    git(repo, "commit", "-q", "-m", "task work")
    (repo / "staged.txt").write_text("one\nTWO\nthree\n")  # staged change
    git(repo, "add", "staged.txt")
    with open(repo / "unstaged.txt", "a") as fh:  # unstaged change
        fh.write("b\nc\n")
    git(repo, "rm", "-q", "gone.txt")  # deleted
    git(repo, "mv", "old_name.txt", "new_name.txt")  # renamed
    (repo / "notes.txt").write_text("u1\nu2\nu3")  # untracked, no final newline
    (repo / "logo.bin").write_bytes(BINARY[::-1])  # binary, modified
    (repo / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")  # binary, untracked
    (repo / "debug.log").write_text("ignored\n")  # ignored: not listed

    files, error = changed_files(repo, start)
    assert error is None
    assert files == [
        FileChange("committed.txt", "added", 2, 0),
        FileChange("gone.txt", "deleted", 0, 2),
        FileChange("logo.bin", "modified", None, None),
        FileChange("new_name.txt", "renamed", 0, 0, old_path="old_name.txt"),
        FileChange("notes.txt", "untracked", 3, 0),
        FileChange("shot.png", "untracked", None, None),
        FileChange("staged.txt", "modified", 1, 1),
        FileChange("unstaged.txt", "modified", 2, 0),
    ]
    # read-only: nothing staged or committed by looking
    assert git(repo, "rev-parse", "HEAD") != start
    assert "notes.txt" not in git(repo, "diff", "--cached", "--name-only")

    # from a subdirectory: the same files, paths from the top of the repository
    (repo / "sub").mkdir()
    (repo / "sub" / "deep.txt").write_text("1\n")
    sub_files, _ = changed_files(repo / "sub", start)
    assert {f.path for f in sub_files} == {f.path for f in files} | {"sub/deep.txt"}


def test_changed_files_odd_names(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    start = git(repo, "rev-parse", "HEAD")
    (repo / "with space\tand tab.txt").write_text("1\n2\n")
    (repo / "ünïcode.txt").write_text("1\n")
    git(repo, "add", "-A")
    files, error = changed_files(str(repo), start)
    assert error is None
    assert [(f.path, f.status, f.added) for f in files] == [
        ("with space\tand tab.txt", "added", 2),
        ("ünïcode.txt", "added", 1),
    ]


def test_changed_files_without_start_commit(tmp_path: Path) -> None:
    """The repository had no commit when the task started: all is new."""
    repo = new_repo(tmp_path / "repo")
    (repo / "first.txt").write_text("1\n2\n")
    git(repo, "add", "first.txt")
    (repo / "loose.txt").write_text("x\n")
    assert changed_files(repo, None) == (
        [FileChange("first.txt", "added", 2, 0), FileChange("loose.txt", "untracked", 1, 0)],
        None,
    )
    git(repo, "commit", "-q", "-m", "made by the task")
    files, error = changed_files(repo, None)
    assert error is None
    assert [(f.path, f.status) for f in files] == [
        ("first.txt", "added"),
        ("loose.txt", "untracked"),
    ]


def test_changed_files_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert changed_files(plain, "abc123") == ([], "not a git repository")
    assert changed_files(plain, None) == ([], "not a git repository")
    files, error = changed_files(tmp_path / "missing", None)
    assert files == [] and error is not None and "does not exist" in error

    repo = new_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    files, error = changed_files(repo, "0" * 40)
    assert files == [] and error == f"start commit {'0' * 40} is not in the repository"


def test_changed_files_nothing_changed(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    assert changed_files(repo, git(repo, "rev-parse", "HEAD")) == ([], None)


# -- the whole report ----------------------------------------------------------------------


def make_task(workdir: Path, **changes: object) -> Task:
    task = Task(
        id=7,
        name="fix-tests",
        state="done",
        mode="exec",
        workdir=str(workdir),
        argv=["codex", "exec", "fix the tests"],
        created_at="2026-11-24T08:54:40.000000Z",
        updated_at="2026-11-24T08:56:12.500000Z",
        log_path=str(workdir / "7.log"),
        exit_code=0,
    )
    for key, value in changes.items():
        setattr(task, key, value)
    return task


@pytest.fixture
def worked_repo(tmp_path: Path) -> tuple[Path, str]:
    """A repository where a task changed one file and added another."""
    repo = new_repo(tmp_path / "project")
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    start = git(repo, "rev-parse", "HEAD")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    return repo, start


def test_build_from_the_rollout(tmp_path: Path, worked_repo: tuple[Path, str]) -> None:
    repo, start = worked_repo
    home = codex_home_with(tmp_path, EXEC_TESTS_SESSION)
    task = make_task(
        repo,
        start_commit=start,
        codex_session_id=EXEC_TESTS_SESSION,
        codex_home=str(home),
        last_message="what notify said",
    )
    log = rendered("codex-tui-tests.raw", 120, 40)  # another session's log: not used for tests
    report = build(task, log)

    assert report.task == 7 and report.name == "fix-tests"
    assert (report.state, report.exit_code, report.mode) == ("done", 0, "exec")
    assert report.started_at == "2026-11-24T08:54:40.000000Z"
    assert report.ended_at == "2026-11-24T08:56:12.500000Z"
    assert report.duration_s == 92.5
    assert report.session_id == EXEC_TESTS_SESSION
    assert report.rollout_path == str(find_rollout(home, EXEC_TESTS_SESSION))
    assert report.files == [
        FileChange("calc.py", "modified", 1, 1),
        FileChange("test_calc.py", "untracked", 5, 0),
    ]
    assert report.files_error is None
    assert report.tests_source == "rollout"
    assert counts(report.tests) == [
        PYTEST_FAIL,
        CARGO_FAIL,
        JEST_FAIL,
        ("go", None, 1, None, 0, False),
    ]
    assert report.tokens == Tokens(6000, 400, 6400, cached_input=0, reasoning_output=0)
    assert report.last_message == "Ran 4 command(s); the test results are above."

    data = report.to_dict()
    text = json.dumps(data)
    assert json.loads(text) == data
    assert "\x1b" not in text and "\\u001b" not in text
    assert data["task"] == 7
    assert data["files"][0] == {
        "path": "calc.py",
        "status": "modified",
        "added": 1,
        "removed": 1,
        "old_path": None,
    }
    assert data["tests"][0]["runner"] == "pytest"
    assert data["tests"][0]["summary"].endswith("1 error in 1.42s ==========")
    assert data["tokens"] == {
        "input": 6000,
        "output": 400,
        "total": 6400,
        "cached_input": 0,
        "reasoning_output": 0,
    }


def test_build_from_the_log(tmp_path: Path) -> None:
    """No rollout to read: tests, tokens and session id from the log; message from notify."""
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    task = make_task(
        plain,
        state="failed",
        exit_code=1,
        last_message="\x1b[1mBold\x1b[0m words",
        codex_home=str(tmp_path / "empty-codex-home"),
    )
    report = build(task, rendered("codex-exec-tests.raw", 120, 40))
    assert report.files == [] and report.files_error == "not a git repository"
    assert report.tests_source == "log"
    assert counts(report.tests)[0] == PYTEST_FAIL
    assert report.tokens == Tokens(None, None, 6400)
    assert report.session_id == "01a20cc8-7f43-76a2-a25a-c57f849a05c9"
    assert report.rollout_path is None
    assert report.last_message == "Bold words"
    assert "\x1b" not in json.dumps(report.to_dict())


def test_build_says_why_a_task_failed(tmp_path: Path) -> None:
    plain = tmp_path / "w"
    plain.mkdir()
    log = render((CAPTURES / "exec-http-400" / "raw.log").read_bytes(), 120, 40)
    failed = {"state": "failed", "exit_code": 1, "codex_session_id": HTTP_400_SESSION}
    # From the rollout: the error the last turn ended with.
    home = codex_home_with(tmp_path, HTTP_400_SESSION, day="2026/11/30")
    report = build(make_task(plain, codex_home=str(home), **failed), "")
    assert report.error == HTTP_400_MESSAGE and report.tokens is None
    assert f"  error    {HTTP_400_MESSAGE}" in render_text(report).splitlines()
    # No rollout: from the end of the log; the session id from its start.
    nowhere = str(tmp_path / "no-codex-home")
    alone = make_task(plain, codex_home=nowhere, state="failed", exit_code=1)
    report = build(alone, "", log_head=log)
    assert report.session_id == "01a20c81-bfc0-7690-b992-c0cd8a9d9e6f" and report.error is None
    report = build(alone, log)
    assert report.error == HTTP_400_MESSAGE
    # Else what the screen last showed (the monitor records a TUI's "■ …" error).
    screen = make_task(plain, codex_home=nowhere, mode="tui", error='{"error": {"message": "m"}}')
    assert build(screen, "").error == "m"
    # A rollout whose last turn went well: no error, whatever an earlier turn said.
    home = codex_home_with(tmp_path / "b", ERROR_THEN_OK_SESSION, day="2026/11/30")
    ok = make_task(
        plain, codex_home=str(home), mode="tui", codex_session_id=ERROR_THEN_OK_SESSION, error="x"
    )
    report = build(ok, log)
    assert report.error is None and report.tokens is not None and report.tokens.total == 1280


def test_build_live_task_with_nothing_known(tmp_path: Path) -> None:
    plain = tmp_path / "w"
    plain.mkdir()
    task = make_task(plain, state="working", exit_code=None)
    now = datetime(2026, 11, 24, 9, 0, 0, tzinfo=timezone.utc)
    report = build(task, "", codex_home=tmp_path / "no-home", now=now)
    assert report.ended_at is None
    assert report.duration_s == 320.0
    assert report.tests == [] and report.tests_source is None
    assert report.tokens is None and report.last_message is None and report.session_id is None
    text = render_text(report)
    assert "task 7 (fix-tests): working; exec mode, attempt 1" in text
    assert "-> now (5m 20s)" in text
    assert "files: unknown (not a git repository)" in text
    assert "tests: none found" in text
    assert "tokens: unknown" in text
    assert "last message: none" in text


def test_render_text(tmp_path: Path, worked_repo: tuple[Path, str]) -> None:
    repo, start = worked_repo
    home = codex_home_with(tmp_path, EXEC_TESTS_SESSION)
    task = make_task(repo, start_commit=start, codex_session_id=EXEC_TESTS_SESSION)
    report = build(task, "", codex_home=home)
    text = render_text(report)
    assert "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == "task 7 (fix-tests): done, exit 0; exec mode, attempt 1"
    assert f"  workdir  {repo}" in lines
    assert "  time     2026-11-24T08:54:40.000000Z -> 2026-11-24T08:56:12.500000Z (1m 32s)" in lines
    assert f"files: 2 changed since {start[:12]}, +6 -1" in lines
    assert "  M calc.py       +1 -1" in lines
    assert "  ? test_calc.py  +5" in lines
    assert "tests: 4 runs (from the rollout)" in lines
    assert "  pytest   FAILED  1 passed, 1 failed, 2 skipped, 1 error" in lines
    go = lines.index("  go       FAILED  1 failed")
    assert lines[go + 1] == "           FAIL\texample.com/gocalc\t0.009s"  # the failing package
    assert "tokens: 6,400 (input 6,000, output 400)" in lines
    assert lines[-2:] == ["last message:", "  Ran 4 command(s); the test results are above."]


def test_render_text_renames_and_binaries() -> None:
    report = Report(
        task=1,
        name="t",
        state="done",
        mode="tui",
        workdir="/w",
        started_at="2026-11-24T08:00:00Z",
        ended_at="2026-11-24T09:01:02Z",
        duration_s=3662.0,
        exit_code=None,
        session_id=None,
        attempt=2,
        start_commit=None,
        files=[
            FileChange("b.py", "renamed", 1, 0, old_path="a.py"),
            FileChange("img.png", "added", None, None),
        ],
        files_error=None,
        tests=[TestRun("go", None, 0, None, 0, True, "ok  \tpkg\t0.1s")],
        tests_source="log",
        tokens=Tokens(None, None, 42),
        last_message="line one\n\nline three",
    )
    lines = render_text(report).splitlines()
    assert lines[0] == "task 1 (t): done; tui mode, attempt 2"
    assert "(1h 01m)" in lines[2]
    assert "files: 2 changed, +1 -0" in lines
    assert "  R a.py -> b.py  +1 -0" in lines
    assert "  A img.png       binary" in lines
    assert "  go       ok      0 failed" in lines
    assert "tokens: 42" in lines
    assert lines[-4:] == ["last message:", "  line one", "", "  line three"]


def test_render_text_long_file_lists_are_cut() -> None:
    files = [FileChange(f"f{i:03d}.txt", "untracked", 1, 0) for i in range(100)]
    report = Report(
        task=1,
        name="t",
        state="done",
        mode="exec",
        workdir="/w",
        started_at="2026-11-24T08:00:00Z",
        ended_at="2026-11-24T08:00:00.5Z",
        duration_s=0.5,
        exit_code=0,
        session_id=None,
        attempt=1,
        start_commit="abc",
        files=files,
        files_error=None,
        tests=[],
        tests_source=None,
        tokens=None,
        last_message=None,
    )
    lines = render_text(report).splitlines()
    assert "(<1s)" in lines[2]
    assert "files: 100 changed since abc, +100 -0" in lines
    assert "  ? f039.txt  +1" in lines
    assert "  ? f040.txt  +1" not in lines
    assert "  … and 60 more (--json lists them all)" in lines
    assert len(report.to_dict()["files"]) == 100
