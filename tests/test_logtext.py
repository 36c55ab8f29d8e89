"""Raw pane bytes → readable text, against the real Codex captures."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from tests.captures import CAPTURES, FIXTURES, load_fixture
from tmux_codex.codex.logtext import end_mark, run_ended, states, strip_escapes, tail
from tmux_codex.codex.transcript import render

CAPTURE_NAMES = [capture.name for capture in CAPTURES]


def full_log(capture: str) -> tuple[str, bytes, int, int]:
    """The whole ``raw.log`` of a capture, rendered at the capture's size."""
    raw = (FIXTURES / capture / "raw.log").read_bytes()
    width = next(c.width for c in CAPTURES if c.name == capture)
    height = next(c.height for c in CAPTURES if c.name == capture)
    return render(raw, width, height), raw, width, height


def assert_plain(text: str) -> None:
    assert "\x1b" not in text
    assert all(ch == "\n" or unicodedata.category(ch) != "Cc" for ch in text)
    assert all(line == line.rstrip() for line in text.splitlines())
    assert "\n\n\n" not in text
    assert text == text.strip("\n")


@pytest.mark.parametrize("capture", CAPTURE_NAMES)
def test_every_log_renders_as_plain_text(capture: str) -> None:
    text, _raw, _width, _height = full_log(capture)
    assert text
    assert_plain(text)


def test_approval_log() -> None:
    text, _raw, _width, _height = full_log("tui-approval-exec")
    assert "The approved command ran and wrote approval-exec.txt." in text
    assert (
        "✔ You approved codex to run echo approved-command-ran > approval-exec.txt this time"
        in text.splitlines()
    )
    # Transcript order: the request, the decision, the run, the answer, the divider.
    order = [
        "› [scenario:approval-exec] please do the task",
        "✔ You approved codex",
        "• Ran echo approved-command-ran > approval-exec.txt",
        "• The approved command ran",
        "Worked for",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)


def test_the_prompt_is_in_the_log_while_it_is_up() -> None:
    # The prompt is drawn in the TUI's live area and erased once answered
    # (as in the pane's own scrollback); Codex records the decision instead.
    _screen, meta, raw = load_fixture("tui-approval-exec", "waiting")
    text = render(raw, int(str(meta["width"])), int(str(meta["height"])))
    assert "Would you like to run the following command?" in text
    assert "$ echo approved-command-ran > approval-exec.txt" in text
    assert "\x1b" not in text


@pytest.mark.parametrize(
    ("capture", "state"),
    [
        ("tui-approval-exec", "waiting"),
        ("tui-approval-exec-80x24", "waiting"),
        ("tui-approval-exec-80x24", "idle"),
        ("tui-ask-user", "waiting"),
        ("tui-http-400", "error"),
        ("tui-slow-stream", "idle"),
        ("tui-trust", "waiting"),
    ],
)
def test_the_log_ends_with_the_screen_tmux_showed(capture: str, state: str) -> None:
    screen, meta, raw = load_fixture(capture, state)
    text = render(raw, int(str(meta["width"])), int(str(meta["height"])))
    shown = [line.rstrip() for line in screen.splitlines()]
    while shown and not shown[-1]:
        shown.pop()
    while shown and not shown[0]:
        shown.pop(0)
    collapsed: list[str] = []
    for line in shown:
        if line or (collapsed and collapsed[-1]):
            collapsed.append(line)
    assert text.endswith("\n".join(collapsed))


def test_scrolled_off_lines_are_kept_in_order() -> None:
    # At 80x24 the banner scrolled off the top of the pane: it is still there.
    text, _raw, _width, _height = full_log("tui-approval-exec-80x24")
    lines = text.splitlines()
    assert lines[0].startswith("WARNING: proceeding")
    assert "  >_ OpenAI Codex (v0.169.0)" in lines
    assert text.index(">_ OpenAI Codex") < text.index("› [scenario:approval-exec]")
    assert text.index("› [scenario:approval-exec]") < text.index("Worked for")
    assert text.count("Worked for") == 1


def test_exec_log() -> None:
    text, _raw, _width, _height = full_log("exec-complete")
    assert "All done: the fake model finished this task." in text.splitlines()
    assert "[scenario:complete] please do the task" in text.splitlines()


def test_tui_exit_log_has_the_resume_hint_and_no_stray_sequences() -> None:
    text, _raw, _width, _height = full_log("tui-exit")
    lines = text.splitlines()
    assert "Token usage: total=1,280 input=1,200 output=80" in lines
    assert any(line.startswith("  codex resume ") for line in lines)


def test_states() -> None:
    raw = (FIXTURES / "tui-approval-exec" / "raw.log").read_bytes()
    found = states(raw)
    assert "blocked:app=codex:kind=permission" in found
    assert "done:app=codex" in found
    assert found.index("blocked:app=codex:kind=permission") < found.index("done:app=codex")
    assert found[0] == "idle:app=codex"
    ask = states((FIXTURES / "tui-ask-user" / "raw.log").read_bytes())
    assert "blocked:app=codex:kind=question" in ask
    assert states((FIXTURES / "tui-exit" / "raw.log").read_bytes())[-1] == "clear"
    assert states((FIXTURES / "tui-http-400" / "raw.log").read_bytes())[-1] == "error:app=codex"
    assert states((FIXTURES / "exec-complete" / "raw.log").read_bytes()) == []


def test_states_terminators_and_cut_off_sequences() -> None:
    raw = (
        b"x\x1b]7501;state=working:app=codex\x07y"
        b"\x1b]0;title\x07\x1b]7501;state=done:app=codex\x1b\\"
        b"\x1b]7501;state=err\xffor\x1b\\"
        b"\x1b]7501;state=blocked:app=codex"  # no terminator yet
    )
    assert states(raw) == ["working:app=codex", "done:app=codex", "err\ufffdor"]
    assert states(b"") == []


def test_invalid_utf8_does_not_crash() -> None:
    raw = b"ok \xff\xfe\xc3( bad \xed\xa0\x80 done\r\nnext \x80line"
    text = render(raw, 40, 5)
    assert text.splitlines()[0].startswith("ok ")
    assert text.splitlines()[0].endswith(" done")
    assert "\ufffd" in text
    assert text.splitlines()[1] == "next \ufffdline"
    assert render(b"\xff" * 10, 4, 2) == "\ufffd" * 4 + "\n" + "\ufffd" * 4 + "\n" + "\ufffd" * 2


def test_odd_sequences_and_characters_lose_no_text() -> None:
    raw = (
        b"a\x01b\xe2\x80\x8dc\xc2\x85d"  # control, zero-width joiner, C1 control
        b" \xe2\x9a\xa0\xef\xb8\x8f warn"  # emoji variation selector
        b"\x1b[1;2;3H\x1b[<1u\x1b[>4;0m\x1b[38:2::255:0:0m"  # too many args, kitty, colon
        b"\x1bP+q544e\x1b\\ end"  # a DCS query
    )
    assert render(raw, 60, 3) == "abcd ⚠ warn end"


def test_lines_scrolled_off_the_top_are_kept() -> None:
    raw = b"".join(f"line {i}\r\n".encode() for i in range(100))
    assert render(raw, 20, 5).splitlines() == [f"line {i}" for i in range(100)]


def test_a_scroll_region_below_the_top_feeds_no_history() -> None:
    # Like tmux: only a region that starts at the top line scrolls into history.
    raw = b"head\r\n\x1b[2;3r\x1b[3;1H" + b"".join(f"\r\nmid {i}".encode() for i in range(5))
    assert render(raw, 20, 4).splitlines() == ["head", "mid 3", "mid 4"]


def test_scroll_up_and_down() -> None:
    assert render(b"1\r\n2\r\n3\r\n4\x1b[2Sx", 10, 4) == "1\n2\n3\n4\n\n x"
    assert render(b"a\r\nb\r\nc\r\nd\x1b[1Tz", 10, 4) == "a\nb\ncz"


def test_blank_lines_are_collapsed_and_trimmed() -> None:
    raw = b"\r\n\r\na   \r\n\r\n\r\n\r\nb\t\r\n\r\n"
    assert render(raw, 20, 10) == "a\n\nb"
    assert render(b"", 20, 10) == ""


def test_strip_escapes() -> None:
    raw = (
        b"\x1b[1mbold\x1b[0m text\r\n\x1b]0;title\x07\x1b[5;1Hmoved\x1b[K\x01\x1b[?25l\xff end\x1b["
    )
    assert strip_escapes(raw) == "bold text\n\nmoved\ufffd end"
    text = strip_escapes((FIXTURES / "exec-complete" / "raw.log").read_bytes())
    assert "All done: the fake model finished this task." in text.splitlines()
    tui = strip_escapes((FIXTURES / "tui-approval-exec" / "raw.log").read_bytes())
    assert_plain(tui.strip("\n"))
    assert "Would you like to run the following command?" in tui


def test_tail() -> None:
    assert tail("abcdef", 3) == "def"
    assert tail("ab", 10) == "ab"
    assert tail("abc", 0) == ""
    assert tail("abc", -1) == ""


@pytest.mark.parametrize("module", ["logtext", "transcript", "terminal"])
def test_importing_does_not_import_pyte(module: str) -> None:
    # pyte loads when rendering runs: CLI start-up time matters.
    code = f"import tmux_codex.codex.{module}, sys; assert 'pyte' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_run_has_ended_once_its_end_mark_is_the_last_thing_in_the_log(tmp_path: Path) -> None:
    log = tmp_path / "1.log"
    assert not run_ended(str(log), 1)  # no log yet
    log.write_bytes(b"working\r\n" + end_mark(1))
    assert run_ended(str(log), 1) and not run_ended(str(log), 2)
    # A resumed run (attempt 2) writes on after the separator: not ended until its own mark.
    with log.open("ab") as fh:
        fh.write(b"\r\n==== tmux-codex: resumed, attempt 2 ====\r\n" + b"x" * 500)
    assert not run_ended(str(log), 2) and not run_ended(str(log), 1)
    with log.open("ab") as fh:
        fh.write(end_mark(2))
    assert run_ended(str(log), 2)
    # Nothing a terminal draws, nothing the readable log shows.
    assert strip_escapes(end_mark(2)) == "" and render(end_mark(2)).strip() == ""
