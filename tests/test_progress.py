"""Progress or a repaint, on bytes (real Codex captures, and by hand)."""

from __future__ import annotations

from tests.test_classify import _turn_frames
from tmux_codex.codex.version import CODEX_VERSION
from tmux_codex.monitor.progress import Seen


def _weigh_all(frames: list[bytes]) -> list[int]:
    seen = Seen()
    return [i for i, frame in enumerate(frames) if seen.weigh(frame)]


def test_a_live_timer_alone_is_not_progress() -> None:
    frames = _turn_frames("tui-hang-headers", CODEX_VERSION)
    progress = _weigh_all(frames)
    assert progress and max(progress) < 10


def test_streamed_text_is_progress() -> None:
    frames = _turn_frames("tui-slow-stream", CODEX_VERSION)
    assert sum(1 for i in _weigh_all(frames) if i >= 10) >= 10


def test_a_repaint_of_the_whole_screen_is_not_progress() -> None:
    """What Codex sends when a client attaches: the screen again, from the top."""
    frames = _turn_frames("tui-hang-headers", CODEX_VERSION)
    seen = Seen()
    for frame in frames:
        seen.weigh(frame)
    assert not seen.weigh(b"\x1b[H\x1b[2J\x1b[3J" + b"".join(frames))


SCREEN = (
    b"\x1b[2m/tmp/work-tree/projects/parser\x1b[0m\r\n"
    b"\x1b[1mTip:\x1b[22m Maximize usage with the new model. Try it on complex work.\r\n"
    b"\x1b[38;5;255;48;5;238m\xe2\x80\xba [scenario:hang-headers] wait forever\x1b[0m\r\n"
)
#: The same, as Codex draws it at 30 columns: re-wrapped, the long path shortened.
NARROW = (
    b"\x1b[r\x1b[H\x1b[2J\x1b[3J\x1b[2m/tmp/work-tree/\xe2\x80\xa6/parser\x1b[0m\r\n"
    b"\x1b[1mTip:\x1b[22m Maximize usage with\r\nthe new model. Try it on\r\n"
    b"complex work.\r\n\x1b[1;5H\xe2\x80\xba [scenario:hang-head\r\ners] wait forever\r\n"
)


def test_a_screen_redrawn_at_another_width_is_not_progress() -> None:
    seen = Seen()
    assert seen.weigh(SCREEN)
    assert not seen.weigh(NARROW)
    assert not seen.weigh(SCREEN)
    assert seen.weigh(b"\x1b[9;1Hprogress line 000124\r\n")  # a counter that moved
    assert not seen.weigh(b"\x1b[9;1Hprogress line 000124\r\n")
    assert seen.weigh(b"\x1b[9;1Hprogress line 000125\r\n")


def test_an_escape_or_character_cut_by_a_read_draws_nothing_new() -> None:
    seen = Seen()
    assert seen.weigh("\x1b[1mcafé ready\x1b[0m\r\n".encode())
    again = "\x1b[38;5;151;49mcafé ready\x1b[0m\r\n".encode()
    for cut in range(1, len(again)):
        assert not seen.weigh(again[:cut]), again[:cut]
        assert not seen.weigh(again[cut:]), again[cut:]


def test_what_it_drew_long_ago_is_forgotten() -> None:
    seen = Seen(words=4, text=16)
    assert seen.weigh(b"alpha beta gamma delta")
    assert seen.weigh(b"epsilon zeta eta theta iota kappa")
    assert seen.weigh(b"alpha")  # two generations of 4 words later: new again


def test_a_word_drawn_in_pieces_then_whole_is_not_progress() -> None:
    seen = Seen()
    assert seen.weigh(b"\x1b[18;100HFak\x1b[18;103He  ready")  # first drawn: progress
    # Codex redraws only changed cells: the word came in two pieces, now whole.
    assert not seen.weigh(b"\x1b[2J\x1b[18;100HFake ready")


def test_a_window_title_drawn_in_the_footer_is_not_progress() -> None:
    """Codex 0.171 shows the thread's title in the pane title, then in its footer."""
    seen = Seen()
    assert seen.weigh(b"> a prompt\r\n")
    assert not seen.weigh(b"\x1b]0;\xe2\xa0\xb8 Fake hang-headers task | project\x07")
    assert not seen.weigh(b"\x1b[18;104HFake han")  # the footer, cut at the width
    assert seen.weigh(b"\x1b[5;1Hsomething else entirely")
