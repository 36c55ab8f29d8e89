"""The screen classifier against the real Codex captures, and hand-made traps.

Every test on captures runs on every captured Codex version
(``tests/fixtures/codex-<version>/``), each read with the table
:func:`patterns_for` picks for that version, as a task running it would be.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.captures import CAPTURES, Snap, fixture_dir, load_fixture
from tests.codexbed import captured_versions, fixtures_dir
from tmux_codex.codex.classify import Verdict, classify, decide
from tmux_codex.codex.output import (
    announcements,
    is_progress,
    loop_key,
    output_lines,
    repeated_block,
    visible_text,
)
from tmux_codex.codex.patterns import PATTERNS, PATTERNS_0_169_0, patterns_for
from tmux_codex.codex.version import CODEX_VERSION

COMMAND = "echo approved-command-ran > approval-exec.txt"


#: Every Codex version with captured screens, oldest first.
VERSIONS = captured_versions()
#: Parametrize a test over every captured version.
every_version = pytest.mark.parametrize("version", VERSIONS)


def _live_snapshots() -> list[tuple[str, str, str]]:
    """(version, capture, state) of every snapped state whose pane was still alive."""
    found: list[tuple[str, str, str]] = []
    for version in VERSIONS:
        for capture in CAPTURES:
            for step in capture.steps:
                if not isinstance(step, Snap):
                    continue
                path = fixture_dir(capture, version) / f"{step.name}.json"
                meta = json.loads(path.read_text(encoding="utf-8"))
                if not meta["pane_dead"]:
                    found.append((version, capture.name, step.name))
    return found


LIVE = _live_snapshots()


def _verdict(capture: str, state: str, version: str) -> Verdict:
    screen, meta, _raw = load_fixture(capture, state, version)
    return classify(
        screen, str(meta["pane_title"]), str(meta["mode"]), patterns=patterns_for(version)
    )


def test_the_pinned_version_and_another_are_captured() -> None:
    assert CODEX_VERSION in VERSIONS
    assert "0.171.0" in VERSIONS


@every_version
def test_the_captures_cover_every_kind_of_live_state(version: str) -> None:
    expected = set()
    for found, capture, state in LIVE:
        if found != version:
            continue
        _screen, meta, _raw = load_fixture(capture, state, version)
        expect = meta["expect"]
        assert isinstance(expect, dict)
        expected.add((expect["state"], expect["reason"]))
    assert expected >= {
        ("working", None),
        ("idle", None),
        ("waiting", "approval"),
        ("waiting", "edit"),
        ("waiting", "trust"),
        ("waiting", "question"),
    }


@pytest.mark.parametrize(
    ("version", "capture", "state"), LIVE, ids=[f"{v}/{c}/{s}" for v, c, s in LIVE]
)
def test_every_live_capture(version: str, capture: str, state: str) -> None:
    _screen, meta, _raw = load_fixture(capture, state, version)
    expect = meta["expect"]
    assert isinstance(expect, dict)
    verdict = _verdict(capture, state, version)
    assert (verdict.state, verdict.reason) == (expect["state"], expect["reason"])
    if verdict.state == "waiting":
        assert verdict.prompt_text
    else:
        assert verdict.prompt_text is None
    if state == "error":
        assert verdict.error
    else:
        assert verdict.error is None


@every_version
@pytest.mark.parametrize(
    "capture", ["tui-approval-exec", "tui-approval-exec-80x24", "tui-approval-exec-deny"]
)
def test_approval_prompt_text_names_the_command(capture: str, version: str) -> None:
    verdict = _verdict(capture, "waiting", version)
    assert verdict.prompt_text is not None
    lines = verdict.prompt_text.splitlines()
    assert lines[0] == "Would you like to run the following command?"
    assert f"$ {COMMAND}" in lines
    assert "Reason: The fake model needs to write approval-exec.txt." in lines
    # The options are whole, even where the 80-column pane wrapped one.
    assert f"2. Yes, and don't ask again for commands that start with `{COMMAND}` (p)" in lines
    assert "3. No, and tell Codex what to do differently (esc)" in lines
    assert "Press enter to confirm" not in verdict.prompt_text


@every_version
@pytest.mark.parametrize("capture", ["tui-approval-patch", "tui-approval-patch-80x24"])
def test_edit_prompt_text_names_the_file(capture: str, version: str) -> None:
    verdict = _verdict(capture, "waiting", version)
    assert verdict.prompt_text is not None
    assert "approval-patch.txt" in verdict.prompt_text
    assert verdict.prompt_text.startswith("Would you like to make the following edits?")
    # At 80 columns the path goes to the line under "Destination:": joined again.
    assert re.search(
        rf"^Destination: /\S*/{capture}/project/approval-patch\.txt$",
        verdict.prompt_text,
        re.MULTILINE,
    )


@every_version
def test_trust_prompt_text_names_the_folder(version: str) -> None:
    verdict = _verdict("tui-trust", "waiting", version)
    assert verdict.prompt_text is not None
    lines = verdict.prompt_text.splitlines()
    assert lines[:2] == ["Folder access", "/src/tmux-codex-capture/tui-trust/project"]
    assert "1. Trust and continue" in lines
    assert any(
        line.startswith("Trust this folder?") and "decision will be saved" in line for line in lines
    )


@every_version
def test_question_prompt_text_has_the_question_and_choices(version: str) -> None:
    verdict = _verdict("tui-ask-user", "waiting", version)
    assert verdict.prompt_text is not None
    lines = verdict.prompt_text.splitlines()
    assert lines[0] == "Question 1/1 (1 unanswered)"
    assert "Which database should the fake project use?" in lines
    assert any(line.startswith("1. SQLite (Recommended)") for line in lines)
    assert not any("enter to submit answer" in line for line in lines)


@every_version
def test_error_text_is_the_whole_error(version: str) -> None:
    assert _verdict("tui-close", "error", version).error == (
        "stream disconnected before completion: stream closed before response.completed"
    )
    error = _verdict("tui-http-400", "error", version).error
    assert error is not None
    assert error.startswith('{"error": {"message": "The fake model server rejected')
    assert error.endswith('"type": "invalid_request_error", "code": "invalid_request_error"}}')


def test_exec_mode_is_always_working_while_alive() -> None:
    screen, _meta, _raw = load_fixture("tui-http-400", "error")
    assert classify(screen, "project", "exec") == Verdict("working", None, None)
    assert classify("", "", "exec").state == "working"


# Hand-made screens for the traps -------------------------------------------

COMPOSER = """
› Ask Codex to do anything

  mock-model default · /src/project · Fake task
  ← for agents · ? for shortcuts                                 ⚠ 2 warnings · f2 to view
"""


def screen(body: str) -> str:
    return body.strip("\n") + "\n\n" + COMPOSER


OLD_APPROVAL = """
› run the script

  Would you like to run the following command?

  $ ./script.sh

› 1. Yes, proceed (y)
  2. Yes, and don't ask again for commands that start with `./script.sh` (p)
  3. No, and tell Codex what to do differently (esc)

  Press enter to confirm or esc to cancel

✔ You approved codex to run ./script.sh this time

• Ran ./script.sh
  └ ok

• The script ran.

  Worked for 3s • 10:01
"""


def test_an_old_approval_above_the_last_turn_does_not_count() -> None:
    verdict = classify(screen(OLD_APPROVAL), "Fake task | project")
    assert verdict == Verdict("idle", None, None)


def test_an_approval_with_the_composer_under_it_is_not_live() -> None:
    body = (
        OLD_APPROVAL.split("✔")[0] + "› and now something else\n\n• Working (4s • esc to interrupt)"
    )
    verdict = classify(screen(body), "⠋ Fake task | project")
    assert verdict.state == "working"


def test_a_live_approval_at_the_bottom_is_waiting() -> None:
    body = OLD_APPROVAL.split("✔")[0]
    verdict = classify(body, "[ ! ] Action Required | Fake task | project")
    assert verdict.state == "waiting"
    assert verdict.reason == "approval"
    assert verdict.prompt_text is not None
    assert "$ ./script.sh" in verdict.prompt_text.splitlines()


def test_a_hint_with_esc_to_interrupt_is_not_the_working_line() -> None:
    body = """
› explain the code

• The code reads a file and prints it.
  esc to interrupt · tab to queue a message
"""
    trap = screen(body).replace(
        "  ← for agents", "  esc to interrupt · ctrl+c to quit\n  ← for agents"
    )
    assert classify(trap, "Fake task | project") == Verdict("idle", None, None)
    working = trap.replace("prints it.", "prints it.\n\n• Working (12s • esc to interrupt)")
    assert classify(working, "Fake task | project").state == "working"


@pytest.mark.parametrize(
    "status",
    [
        "• Working (0s • esc to interrupt)",
        "◦ Working (12s • esc to interrupt)",
        "• Working (1m 05s • esc to interrupt)",
        "• Reading the configuration files (1h 02m 03s • esc to interrupt)",
    ],
)
def test_the_working_line(status: str) -> None:
    body = f"› do the task\n\n{status}"
    assert classify(screen(body), "Fake task | project").state == "working"


@pytest.mark.parametrize(
    "lines",
    [
        "• Reconnecting... 2/5 (3s • esc to interrupt)\n  └ stream disconnected before completion",
        "■ stream disconnected before completion: connection reset\n\n• Reconnecting... 2/5",
        "  Reconnecting... 2/5",
    ],
)
def test_reconnecting_is_working(lines: str) -> None:
    verdict = classify(screen(f"› do the task\n\n{lines}"), "Fake task | project")
    assert verdict == Verdict("working", None, None)


def test_an_error_after_the_last_retry_is_idle() -> None:
    body = "› do the task\n\n• Reconnecting... 5/5\n\n■ exceeded retry limit, last status: 500"
    verdict = classify(screen(body), "Fake task | project")
    assert verdict == Verdict("idle", None, None, "exceeded retry limit, last status: 500")


def test_streaming_text_is_working_by_the_title_spinner() -> None:
    body = "› do the task\n\n• word1 word2 word3"
    assert classify(screen(body), "⠏ Fake task | project").state == "working"
    assert classify(screen(body), "Fake task | project").state == "idle"


def test_a_finished_turn_is_idle_even_with_a_stale_spinner() -> None:
    body = "› do the task\n\n• Done.\n\n  Worked for 2s • 10:01"
    assert classify(screen(body), "⠏ Fake task | project") == Verdict("idle", None, None)


def test_an_error_in_an_earlier_turn_does_not_count() -> None:
    body = """
› first

■ stream disconnected before completion: idle timeout waiting for SSE

› second

• It worked this time.

  Worked for 1s • 10:02
"""
    assert classify(screen(body), "Fake task | project") == Verdict("idle", None, None)
    retry = body.split("• It worked")[0] + "• Working (2s • esc to interrupt)"
    assert classify(screen(retry), "⠙ Fake task | project").state == "working"


def test_an_interrupted_turn_is_idle_with_its_error() -> None:
    body = "› do the task\n\n■ Conversation interrupted - use /feedback if something went wrong"
    verdict = classify(screen(body), "Fake task | project")
    assert verdict == Verdict(
        "idle", None, None, "Conversation interrupted - use /feedback if something went wrong"
    )


def test_a_cancelled_approval_ends_the_turn_but_not_the_next_one() -> None:
    cancelled = """
› do the task

✗ You canceled the request to run ./script.sh

• Working (0s • esc to interrupt)
"""
    assert classify(screen(cancelled), "⠸ Fake task | project").state == "idle"
    later = cancelled.replace("• Working", "› try again\n\n• Working")
    assert classify(screen(later), "⠸ Fake task | project").state == "working"


def test_another_selection_menu() -> None:
    body = """
› /model

  Select a model and effort
  Access legacy models by running codex -m <model_name>

› 1. gpt-x (current)  The usual one.
  2. gpt-y            A faster one.

  Press enter to confirm or esc to go back
"""
    verdict = classify(body, "Fake task | project")
    assert verdict.state == "waiting"
    assert verdict.reason == "menu"
    assert verdict.prompt_text is not None
    lines = verdict.prompt_text.splitlines()
    assert lines[0] == "Select a model and effort"
    assert "2. gpt-y            A faster one." in lines


def test_an_unknown_prompt_behind_the_action_required_title() -> None:
    body = "› do the task\n\n\n  Allow the tool to read the calendar?\n\n  y yes · n no"
    verdict = classify(body, "[ ! ] Action Required | Fake task | project")
    assert verdict.state == "waiting"
    assert verdict.reason == "unknown"
    assert verdict.prompt_text == "Allow the tool to read the calendar?\ny yes · n no"
    # With the composer back the title is stale: the prompt was answered.
    answered = screen("› do the task\n\n• Ran the tool")
    assert classify(answered, "[ . ] Action Required | project").state == "working"


def test_the_composer_alone_does_not_mean_anything_special() -> None:
    assert classify(screen(""), "project") == Verdict("idle", None, None)
    assert classify(screen(""), "⠋ project").state == "working"
    assert classify("", "") == Verdict("idle", None, None)


def test_pattern_tables_by_version() -> None:
    assert PATTERNS["0.169.0"] is PATTERNS_0_169_0
    assert PATTERNS["0.171.0"] is PATTERNS_0_169_0  # registered: draws as 0.169.0 did
    for table in PATTERNS.values():  # each table is registered under its own version
        assert PATTERNS[table.version] is table
    assert patterns_for("0.169.0") is PATTERNS_0_169_0
    assert patterns_for(None) is PATTERNS_0_169_0
    assert patterns_for("v0.170.2") is PATTERNS_0_169_0  # newest table not newer than it
    assert patterns_for("0.171.0") is PATTERNS_0_169_0  # captured: draws as 0.169.0 did
    assert patterns_for("0.1.0") is PATTERNS_0_169_0  # older than every table: the oldest


def test_the_newest_table_not_newer_than_the_version() -> None:
    from dataclasses import replace

    newer = replace(PATTERNS_0_169_0, version="0.175.0")
    tables = {**PATTERNS, newer.version: newer}
    patterns_for.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("tmux_codex.codex.patterns.PATTERNS", tables)
            assert patterns_for("0.171.0") is PATTERNS_0_169_0
            assert patterns_for("0.175.0") is newer
            assert patterns_for("0.180.1") is newer
            assert patterns_for("0.100.0") is PATTERNS_0_169_0
            assert patterns_for(None) is newer
    finally:
        patterns_for.cache_clear()


def test_a_table_can_be_passed_in() -> None:
    from dataclasses import replace

    body = "› do the task\n\n• Pondering (3s • esc to interrupt)"
    other = replace(PATTERNS_0_169_0, version="9.9.9", working=re.compile(r"^• Nope"))
    assert classify(screen(body), "project", patterns=PATTERNS_0_169_0).state == "working"
    assert classify(screen(body), "project", patterns=other).state == "idle"


# -- every signal together: decide() ------------------------------------------------


def test_decide_a_dead_pane_by_its_exit_status() -> None:
    assert decide("", dead=True, exit_status=0).state == "done"
    assert decide("whatever", dead=True, exit_status=3).state == "failed"
    # Not known yet (the shim records it): no change from what it was.
    assert decide("", dead=True, previous="working").state == "working"


def test_decide_an_empty_screen_is_starting() -> None:
    assert decide("\n\n", previous="starting").state == "starting"


@every_version
def test_decide_a_tui_that_never_announced_a_turn_is_starting(version: str) -> None:
    screen, meta, _raw = load_fixture("tui-complete", "idle", version)
    title = str(meta["pane_title"])
    assert decide(screen, title, previous="starting").state == "starting"
    assert decide(screen, title, announced="idle:app=codex", previous="starting").state == (
        "starting"
    )
    assert decide(screen, title, announced="done:app=codex", previous="starting").state == "idle"
    assert decide(screen, title, announced="done:app=codex", previous="working").state == "idle"


@every_version
def test_decide_idle_looking_screen_while_codex_says_working(version: str) -> None:
    screen, meta, _raw = load_fixture("tui-complete", "idle", version)
    verdict = decide(screen, str(meta["pane_title"]), announced="working:app=codex")
    assert verdict.state == "working"


@every_version
def test_decide_only_new_output_ends_a_stall(version: str) -> None:
    screen, meta, _raw = load_fixture("tui-hang-headers", "silent", version)
    title = str(meta["pane_title"])
    assert decide(screen, title, previous="stalled").state == "stalled"
    assert decide(screen, title, previous="working").state == "working"
    # A prompt does end it.
    screen, meta, _raw = load_fixture("tui-approval-exec", "waiting", version)
    assert decide(screen, str(meta["pane_title"]), previous="stalled").state == "waiting"


# -- raw bytes: Codex's state escapes, and progress vs. the live timer ---------------


def _raw(capture: str, version: str) -> bytes:
    return (fixtures_dir(version) / capture / "raw.log").read_bytes()


def _turn_frames(capture: str, version: str) -> list[bytes]:
    """The raw frames (synchronized updates) of a capture from its first turn on."""
    raw = _raw(capture, version)
    start = raw.index(b"7501;state=working")
    return [frame for frame in raw[start:].split(b"\x1b[?2026h") if frame]


@every_version
def test_announcements_in_order(version: str) -> None:
    assert announcements(_raw("tui-approval-exec", version), patterns_for(version)) == [
        "idle:app=codex",
        "working:app=codex",
        "blocked:app=codex:kind=permission",
        "working:app=codex",
        "done:app=codex",
    ]


@every_version
def test_a_live_timer_alone_is_not_progress(version: str) -> None:
    # A model that never answers: Codex redraws "Working (Ns …)" every second,
    # for as long as one waits. Only the turn's first frames draw anything new:
    # the "Working" line itself, and the thread's title in the footer.
    table = patterns_for(version)
    frames = _turn_frames("tui-hang-headers", version)
    assert len(frames) > 150
    assert sum(b"\x1b[13;12H" in frame for frame in frames) > 5  # the timer's digits
    progress = [i for i, frame in enumerate(frames) if is_progress(frame, table)]
    assert progress and max(progress) < 10
    assert not is_progress(b"".join(frames[10:]), table)


@every_version
def test_streamed_text_is_progress(version: str) -> None:
    frames = _turn_frames("tui-slow-stream", version)
    assert sum(is_progress(frame, patterns_for(version)) for frame in frames[10:]) >= 10


@pytest.mark.parametrize(
    ("data", "progress"),
    [
        (b"\x1b[13;12H\x1b[2m7", False),
        (b"\x1b[13;1H\xe2\x97\xa6", False),
        (b"\x1b]0;\xe2\xa0\x99 Fake | project\x07", False),
        (b"\x1b[13;3HWorking (1m 05s \xe2\x80\xa2 esc to interrupt)", False),
        (b"\x1b[13;4Horki", False),
        (b"Running tests", True),
        (b"ok 17 passed\r\n", True),
        (b"\x1b[2J\x1b[H", False),
    ],
)
def test_progress_by_hand(data: bytes, progress: bool) -> None:
    assert is_progress(data) is progress


def test_visible_text_drops_escapes() -> None:
    assert visible_text(b"\x1b[1mbold\x1b[0m\x1b]0;title\x07x").split() == ["bold", "x"]


# -- the loop guard -----------------------------------------------------------------


def test_a_block_repeated_back_to_back_is_a_loop() -> None:
    block = ["$ echo still trying the same thing", "succeeded in #ms:", "still trying the same"]
    assert repeated_block(["some earlier output line", *block * 4]) == (3, 4)
    assert repeated_block(block * 3) is None  # not yet
    assert repeated_block(["Retrying the request now..."] * 8) == (1, 8)
    assert repeated_block(["Retrying the request now..."] * 7) is None
    # Different lines, or copies that are not back to back, are no loop.
    assert repeated_block([f"test_{i} passed in the suite" for i in range(60)]) is None
    assert repeated_block([*block, "other line in between", *block, *block, *block]) is None


def test_output_lines_are_as_printed_and_compared_without_times() -> None:
    raw = (
        b"\x1b[1mRunning 12 of 40 tests\x1b[0m\r\nok\r\n\x1b]0;title\x07succeeded in 5ms: fine\r\n"
        b"  \x1b[32mwrote\x1b[0m /tmp/run-7/out_2.txt   (12 lines)\r\n"
    )
    lines = output_lines(raw)
    assert lines == [
        "Running 12 of 40 tests",
        "succeeded in 5ms: fine",
        "wrote /tmp/run-7/out_2.txt   (12 lines)",
    ]
    assert [loop_key(line) for line in lines] == [
        "Running 12 of 40 tests",  # a count is content
        "succeeded in #: fine",  # a run time is not
        "wrote /tmp/run-7/out_2.txt (12 lines)",
    ]
    assert loop_key("2026-11-24T10:00:01.5Z retry at 10:00:02 after 1.5 s, 3 hours") == (
        "# retry at # after #, #"
    )
    assert loop_key("progress line 000123 of 200 items, v1.2s") == (
        "progress line 000123 of 200 items, v1.2s"
    )


@every_version
def test_no_capture_loops_by_accident(version: str) -> None:
    for capture in CAPTURES:
        raw = _raw(capture.name, version)
        lines: list[str] = []
        for frame in raw.split(b"\x1b[?2026h"):
            if is_progress(frame):
                lines = [*lines, *map(loop_key, output_lines(frame))][-96:]
                assert repeated_block(lines) is None, capture.name


@every_version
def test_decide_a_session_resumed_without_a_prompt_is_idle_at_once(version: str) -> None:
    screen, meta, _raw = load_fixture("tui-complete", "idle", version)
    title = str(meta["pane_title"])
    idle = decide(
        screen, title, announced="idle:app=codex", previous="starting", awaits_prompt=False
    )
    assert idle.state == "idle"
    # Before Codex says anything, it is starting either way.
    assert decide(screen, title, previous="starting", awaits_prompt=False).state == "starting"


def test_the_sign_in_menu_is_a_menu() -> None:
    # Real Codex 0.169.0 with no login and no API key (a resume run from a shell
    # without the task's CODEX_HOME): it waits for a person, it is not starting.
    screen = (fixtures_dir("0.169.0") / "signin.screen.txt").read_text(encoding="utf-8")
    verdict = classify(screen, "", "tui")
    assert (verdict.state, verdict.reason) == ("waiting", "menu")
    assert verdict.prompt_text is not None and "1. Sign in with ChatGPT" in verdict.prompt_text


def test_hooks_need_review_is_a_menu() -> None:
    # Real Codex 0.169.0 with a hook of the user's own that is not trusted (tmux-codex's
    # own hooks are): a menu for a person, never answered by a policy.
    screen = (fixtures_dir("0.169.0") / "hooks-review.screen.txt").read_text(encoding="utf-8")
    verdict = decide(screen, "vm", "tui", previous="starting")
    assert (verdict.state, verdict.reason) == ("waiting", "menu")
    assert verdict.prompt_text is not None
    assert verdict.prompt_text.startswith("Hooks need review\n")
    assert "3. Continue without trusting (hooks won't run)" in verdict.prompt_text
    assert "esc skip" not in verdict.prompt_text
