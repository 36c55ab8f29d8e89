"""Bounded reads of a log file: a window at its end renders as the whole log does.

The logs are the real Codex captures (``tests/fixtures/codex-*/``, the Codex
logs of ``tests/fixtures/test-output/``), alone and played three times on
one screen (more redraws than one window holds), and a resumed task's log
written as ``resume`` writes it. Windows and chunks are made small here so
that every way of growing a window and of cutting the bytes is taken.
"""

from __future__ import annotations

from io import BufferedReader
from pathlib import Path

import pytest

from tests.captures import CAPTURES, FIXTURES
from tmux_codex.codex.logtext import tail
from tmux_codex.codex.transcript import UNKNOWN, render
from tmux_codex.tasks import logfile, logtail
from tmux_codex.tasks.logfile import copy_raw, raw_head, raw_tail, render_stream
from tmux_codex.tasks.logtail import render_tail
from tmux_codex.tasks.resume import separator_bytes

OUTPUTS = Path(__file__).parent / "fixtures" / "test-output"
#: Every real Codex log, with the terminal size it was drawn at.
LOGS: dict[str, tuple[Path, int, int]] = {
    **{c.name: (FIXTURES / c.name / "raw.log", c.width, c.height) for c in CAPTURES},
    "codex-exec-tests": (OUTPUTS / "codex-exec-tests.raw", 120, 40),
    "codex-tui-tests": (OUTPUTS / "codex-tui-tests.raw", 120, 40),
    "codex-tui-tests-80x24": (OUTPUTS / "codex-tui-tests-80x24.raw", 80, 24),
    "codex-tui-tests-hidden": (OUTPUTS / "codex-tui-tests-hidden.raw", 120, 40),
}
#: The bytes of a hung TUI's log: its start, then one cycle of spinner redraws.
HUNG = FIXTURES / "tui-hang-headers" / "raw.log"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read 4093 bytes at a time and search backwards 5000 at a time: chunk and
    window ends fall inside escape sequences, characters and separator lines."""
    monkeypatch.setattr(logfile, "CHUNK", 4093)
    monkeypatch.setattr(logfile, "SCAN", 5000)


def log_file(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "1.log"
    path.write_bytes(data)
    return str(path)


def streamed(path: str, width: int, height: int) -> str:
    pieces: list[str] = []
    render_stream(path, pieces.append, width, height)
    return "".join(pieces)


class Windows:
    """Records each window ``render_tail`` renders: (first byte, bytes, from a run's start)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[int, int, bool]] = []
        real = logtail._render

        def spy(
            fh: BufferedReader, segments: list[tuple[int, int]], known: bool, w: int, h: int
        ) -> str:
            size = sum(stop - start for start, stop in segments)
            self.seen.append((segments[0][0], size, known))
            return real(fh, segments, known, w, h)

        monkeypatch.setattr(logtail, "_render", spy)


@pytest.mark.parametrize("name", sorted(LOGS))
@pytest.mark.parametrize("times", [1, 3])
def test_a_tail_window_renders_as_the_whole_log(name: str, times: int, tmp_path: Path) -> None:
    source, width, height = LOGS[name]
    data = source.read_bytes() * times
    path = log_file(tmp_path, data)
    whole = render(data, width, height)
    assert streamed(path, width, height) == whole
    for limit in (150, 2000, 1_000_000):
        for window in (256, 4096):
            got = render_tail(path, limit, width, height, resumed=False, window=window, cap=1 << 20)
            assert got == tail(whole, limit), (limit, window)
            assert UNKNOWN not in got


@pytest.mark.parametrize("name", ["tui-approval-exec", "tui-slow-stream", "codex-exec-tests"])
def test_the_window_is_grown_from_the_end_only_as_far_as_needed(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, width, height = LOGS[name]
    data = source.read_bytes() * 3
    path = log_file(tmp_path, data)
    windows = Windows(monkeypatch)
    got = render_tail(path, 300, width, height, resumed=False, window=512, cap=1 << 20)
    assert got == tail(render(data, width, height), 300)
    start, size, known = windows.seen[-1]
    # The answer came from a window (a screen of unknown cells), well short of the log.
    assert not known and start > 0 and size < len(data) // 2
    # Smaller windows were tried first and found not to know the screen.
    assert [s for _, s, _ in windows.seen] == sorted(s for _, s, _ in windows.seen)


def test_a_window_too_short_for_the_limit_grows_to_the_run_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, width, height = LOGS["tui-approval-exec"]
    data = source.read_bytes()
    path = log_file(tmp_path, data)
    windows = Windows(monkeypatch)
    assert render_tail(path, 10**6, width, height, resumed=False, window=256) == render(
        data, width, height
    )
    assert windows.seen[-1][2]  # rendered from the start: nothing unknown


def test_at_the_cap_what_the_window_does_not_know_is_left_out(tmp_path: Path) -> None:
    # 300 lines printed by a plain program: a 2 KB window knows the last ones only.
    data = b"".join(b"line %d\r\n" % i for i in range(300))
    path = log_file(tmp_path, data)
    got = render_tail(path, 10_000, 40, 10, resumed=False, window=512, cap=2048)
    assert UNKNOWN not in got
    note, rest = got.split("\n", 1)
    assert note == "==== tmux-codex: what was drawn before the last 2 KB is left out ===="
    assert rest.endswith("line 298\nline 299") and render(data, 40, 10).endswith(rest)


def test_lines_drawn_once_long_before_stop_the_window_growing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The captured TUI started again and again on one screen: the warning it
    # printed first stays on the top lines, never drawn again.
    data = HUNG.read_bytes() * 40
    path = log_file(tmp_path, data)
    windows = Windows(monkeypatch)
    got = render_tail(path, 2000, 120, 40, resumed=False, window=16 << 10, settle=64 << 10)
    # The second window added many line feeds and knew no more than the first: no third.
    assert [known for _, _, known in windows.seen] == [False, False]
    last = windows.seen[-1][1]
    lines, whole = got.splitlines(), render(data, 120, 40).splitlines()
    assert whole[0].startswith("WARNING: proceeding") and whole[1].startswith('r "/src"')
    note = f"==== tmux-codex: what was drawn before the last {last >> 10} KB is left out ===="
    assert lines[0] == note
    assert lines[1:] == whole[2:]


def hung_log(cycles: int) -> tuple[bytes, bytes]:
    """A hung TUI's log: the captured start, then ``cycles`` cycles of its spinner
    frames (about 10 KB each). Returns the log and one cycle."""
    raw = HUNG.read_bytes()
    # The frames after the last clear of the live area redraw it in place only.
    first = raw.index(b"\x1b[?2026h", raw.index(b"\x1b[?2026l", raw.rindex(b"\x1b[J")))
    return raw[:first] + raw[first:] * cycles, raw[first:]


def test_in_place_redraws_past_the_last_line_feed_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _cycle = hung_log(300)  # 3.2 MB: hours of a spinner, shortened
    path = log_file(tmp_path, data)
    windows = Windows(monkeypatch)
    got = render_tail(path, 2000, 120, 40, resumed=False)
    # Read: the start (what the screen shows was drawn there) and a little after it.
    assert sum(size for _, size, _ in windows.seen) < 64 << 10
    lines = got.splitlines()
    assert (
        lines[-1]
        == "==== tmux-codex: 3.1 MB of in-place redraws (a spinner, a timer) left out ===="
    )
    whole = render(data, 120, 40).splitlines()
    # The transcript is exact; the live area is as the kept bytes left it.
    prompt = whole.index("› [scenario:hang-headers] please do the task")
    assert lines[: prompt + 1] == whole[: prompt + 1]
    assert any(line.startswith("• Working (") or line.startswith("◦ Working (") for line in lines)
    assert lines[-4:-1] == whole[-3:]  # the composer and the footer


@pytest.mark.parametrize("title", ["Fake hang-headers task", "JSON JJJJJJJJJJJJJJJJJ"])
def test_the_last_clear_of_the_live_area_is_kept_after_in_place_redraws(
    title: str, tmp_path: Path
) -> None:
    data, cycle = hung_log(150)
    # A title full of J (the last byte of the clear looked for) is no clear.
    data = data.replace(b"Fake hang-headers task", title.encode())
    cycle = cycle.replace(b"Fake hang-headers task", title.encode())
    # Then the live area is cleared and drawn again (a prompt), and redrawn in place a little.
    prompt = b"\x1b[14;1HWould you like to run the following command?"
    data += b"\x1b[?2026h\x1b[13;1H\x1b[J" + prompt + b"\x1b[?2026l" + cycle * 2
    path = log_file(tmp_path, data)
    got = render_tail(path, 2000, 120, 40, resumed=False)
    assert got == tail(render(data, 120, 40), 2000)
    assert "Would you like to run the following command?" in got
    assert "left out" not in got


def resumed_log() -> tuple[bytes, list[bytes]]:
    """A resumed task's log, written as ``resume`` writes it: three runs, two separators."""
    runs = [
        (FIXTURES / "tui-approval-exec" / "raw.log").read_bytes(),
        (FIXTURES / "tui-complete" / "raw.log").read_bytes(),
        (FIXTURES / "exec-complete" / "raw.log").read_bytes(),
    ]
    stamps = ["2026-11-24T10:00:00.000000Z", "2026-11-24T11:00:00.000000Z"]
    data = runs[0]
    for attempt, (run, stamp) in enumerate(zip(runs[1:], stamps, strict=True), start=2):
        data += separator_bytes(attempt, stamp) + run
    return data, runs


def test_a_resumed_log_keeps_every_run_and_its_separator(tmp_path: Path) -> None:
    data, runs = resumed_log()
    text = render(data, 120, 40)
    first = "==== tmux-codex: resumed, attempt 2, 2026-11-24T10:00:00.000000Z ===="
    second = "==== tmux-codex: resumed, attempt 3, 2026-11-24T11:00:00.000000Z ===="
    # Each run is rendered on a screen of its own: nothing of one draws over another.
    assert text == "\n".join([render(runs[0]), first, render(runs[1]), second, render(runs[2])])
    lines = text.splitlines()
    assert lines.index(first) < lines.index(second)
    assert "• The approved command ran and wrote approval-exec.txt." in lines[: lines.index(first)]
    path = log_file(tmp_path, data)
    assert streamed(path, 120, 40) == text
    for limit in range(100, len(text) + 200, 450):
        for window in (256, 1 << 16):
            assert render_tail(path, limit, 120, 40, window=window) == tail(text, limit)


def test_text_that_only_looks_like_a_separator_splits_nothing(tmp_path: Path) -> None:
    data = b"grep found: ==== tmux-codex: resumed, attempt 2 ====\r\nnext line\r\n"
    assert render(data, 80, 10) == "grep found: ==== tmux-codex: resumed, attempt 2 ====\nnext line"
    path = log_file(tmp_path, data)
    assert render_tail(path, 1000, 80, 10) == render(data, 80, 10)


def test_raw_reads(tmp_path: Path) -> None:
    data = bytes(range(256)) * 100
    path = log_file(tmp_path, data)
    assert raw_tail(path, 1000) == data[-1000:]
    assert raw_tail(path, 10**9) == data
    assert raw_head(path, 10) == data[:10]
    chunks: list[bytes] = []
    copy_raw(path, chunks.append)
    assert b"".join(chunks) == data and max(len(c) for c in chunks) <= 4093
    missing = str(tmp_path / "missing.log")
    assert raw_tail(missing, 10) == b"" and raw_head(missing, 10) == b""
    assert render_tail(missing, 10, 80, 24) == "" and streamed(missing, 80, 24) == ""


def test_empty_and_tiny_logs(tmp_path: Path) -> None:
    assert render_tail(log_file(tmp_path, b""), 100, 80, 24) == ""
    assert render_tail(log_file(tmp_path, b"\x1b[1mhi\x1b[0m\r\n"), 100, 80, 24) == "hi"
    assert render_tail(log_file(tmp_path, b"hello"), 3, 80, 24) == "llo"
