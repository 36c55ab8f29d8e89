"""Readable text from the raw bytes ``pipe-pane`` wrote for a Codex pane.

The Codex TUI run with ``--no-alt-screen`` draws inline: colours, cursor
movement, scroll regions, OSC titles and its private ``ESC ] 7501`` state
sequences. :func:`render` replays the bytes through a terminal emulator (pyte)
and returns what a person scrolling back in the pane would read: the lines
that scrolled off the top, in order, then the final screen. Text the TUI drew
and then erased in place (its live area: the status line, a prompt before it
was answered) is not kept, exactly as in the pane's own scrollback; Codex
writes the outcome of each prompt into the transcript ("✔ You approved …").

pyte is imported only when :func:`render` runs, so importing this module is
cheap.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pyte

__all__ = ["end_mark", "render", "run_ended", "states", "strip_escapes", "tail"]

_STATE = re.compile(rb"\x1b\]7501;state=([^\x07\x1b]*)(?:\x07|\x1b\\)")

# Sequences pyte would misread and print as text; none of them draws anything:
# CSI with a "<", "=" or ">" prefix (keyboard protocol, modifyOtherKeys) or with
# ":" sub-parameters (colours), and DCS/SOS/PM/APC strings.
_UNPARSEABLE = re.compile(
    rb"\x1b\[(?:[<=>][\x30-\x3f]*|[\x30-\x3f]*:[\x30-\x3f]*)[\x20-\x2f]*[\x40-\x7e]"
    rb"|\x1b[P^_X][^\x07\x1b]*(?:\x07|\x1b\\)",
)


def end_mark(attempt: int) -> bytes:
    """What the shim prints once Codex has exited: the last bytes of a run in its log.

    An OSC string no terminal draws; a reader that sees it knows tmux's pipe
    has brought every byte Codex printed in that run (attempt).
    """
    return b"\x1b]7502;tmux-codex-end=%d\x07" % attempt


def run_ended(path: str, attempt: int) -> bool:
    """Whether the log at ``path`` ends with the end mark of run ``attempt``."""
    mark = end_mark(attempt)
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 4 * len(mark)))
            return mark in fh.read()
    except OSError:
        return False


def states(raw: bytes) -> list[str]:
    """Values of Codex's ``ESC ] 7501 ; state=VALUE`` sequences, in order.

    For example ``["working:app=codex", "blocked:app=codex:kind=permission"]``.
    A sequence cut off by the end of ``raw`` (no ST or BEL yet) is left out.
    """
    return [m.group(1).decode("utf-8", "replace") for m in _STATE.finditer(raw)]


_ESCAPE = re.compile(
    rb"\x1b\[[\x30-\x3f]*[\x20-\x2f]*([\x40-\x7e])"  # CSI; group 1: its final byte
    rb"|\x1b[\]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC, DCS, SOS, PM, APC strings
    rb"|\x1b[\x20-\x2f]*[\x30-\x7e]"  # other escape sequences
    rb"|\x1b"  # an escape cut off by the end of the bytes
)
_MOVES_TO_LINE = frozenset(b"HfdEF")  # CSI finals that put the cursor on another line


def strip_escapes(raw: bytes) -> str:
    """A cheap, stateless rendering of a chunk of raw bytes (for following a log).

    Escape sequences are dropped (a cursor move to another line becomes a line
    break, one within the line a space), then control characters other than
    newline and tab, and runs of blank lines become one; no terminal is
    emulated, so text that the TUI redraws in place repeats. Use :func:`render`
    for the real transcript.
    """

    row = [b""]  # the row of the last cursor move: a move within it is a space

    def replace(match: re.Match[bytes]) -> bytes:
        final = match.group(1)
        if final is None or final[0] not in _MOVES_TO_LINE:
            return b""
        params = match.group(0)[2:-1]
        if final == b"H" or final == b"f":
            line = params.split(b";")[0]
            same, row[0] = line == row[0], line
            return b" " if same else b"\n"
        row[0] = b""
        return b"\n"

    text = _ESCAPE.sub(replace, raw).decode("utf-8", "replace").replace("\r\n", "\n")
    text = text.replace("\r", "\n")
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    lines = [line.rstrip() for line in kept.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out)


def tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text`` (all of it if shorter; none if ``limit <= 0``)."""
    if limit <= 0:
        return ""
    return text[-limit:]


def render(raw: bytes, width: int = 120, height: int = 40) -> str:
    """The transcript ``raw`` draws on a ``width`` × ``height`` terminal, as plain text.

    Lines scrolled off the top come first, in order, then the final screen.
    No escape or control characters, no trailing spaces, no leading or
    trailing blank lines, and never two blank lines in a row. Invalid UTF-8
    becomes U+FFFD.
    """
    recorder, stream_class = _classes()
    screen = recorder(max(1, width), max(1, height))
    stream = stream_class()
    stream.attach(cast("pyte.Screen", _Tolerant(screen)))
    stream.feed(_UNPARSEABLE.sub(b"", raw))
    lines = [*screen.scrolled, *(screen.row(y) for y in range(screen.lines))]
    return _tidy(lines)


class _Tolerant:
    """Forwards to a screen, ignoring sequences whose arguments it cannot take.

    pyte raises (and drops the rest of the chunk) on sequences with more
    parameters than its handler accepts, e.g. ``ESC [ 1 ; 2 ; 3 H``; a log
    may hold anything, so such a sequence is skipped instead.
    """

    def __init__(self, screen: pyte.Screen) -> None:
        self._screen = screen

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._screen, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except (TypeError, ValueError, IndexError, KeyError, OverflowError):
                return None

        return call


@cache
def _classes() -> tuple[type[_Recorder], type[pyte.ByteStream]]:
    """The screen and stream classes, built on first use (pyte loads here)."""
    import pyte  # here, not at the top: CLI start-up time matters

    class Stream(pyte.ByteStream):
        """pyte's stream, plus scroll up/down (``CSI n S``, ``CSI n T``)."""

        csi = {**pyte.ByteStream.csi, "S": "scroll_up", "T": "scroll_down"}  # noqa: RUF012

    class Recorder(pyte.Screen):
        """A pyte screen that keeps, as text, each line scrolled off its top.

        Like tmux, only a scroll whose region starts at the top line feeds the
        history; a line pushed out of a region lower down is gone.
        """

        def __init__(self, columns: int, lines: int) -> None:
            super().__init__(columns, lines)
            self.scrolled: list[str] = []

        def row(self, y: int) -> str:
            line = self.buffer[y]
            return "".join(line[x].data for x in range(self.columns))

        def draw(self, data: str) -> None:
            # pyte stops drawing at the first character it cannot place (a
            # control character, a zero-width joiner, an emoji's variation
            # selector) and loses the rest of the text: skip those instead.
            if data.isascii() and data.isprintable():
                super().draw(data)
                return
            start = 0
            for index, char in enumerate(data):
                if not _drawable(char):
                    if index > start:
                        super().draw(data[start:index])
                    start = index + 1
            if start < len(data):
                super().draw(data[start:])

        def index(self) -> None:
            top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
            if top == 0 and self.cursor.y == bottom:
                self.scrolled.append(self.row(0))
            super().index()

        def scroll_up(self, count: int = 1) -> None:
            margins = self.margins or pyte.screens.Margins(0, self.lines - 1)
            y, x = self.cursor.y, self.cursor.x
            self.cursor.y = margins.bottom
            for _ in range(min(max(count, 1), self.lines)):
                self.index()
            self.cursor.y, self.cursor.x = y, x

        def scroll_down(self, count: int = 1) -> None:
            margins = self.margins or pyte.screens.Margins(0, self.lines - 1)
            y, x = self.cursor.y, self.cursor.x
            self.cursor.y = margins.top
            for _ in range(min(max(count, 1), self.lines)):
                self.reverse_index()
            self.cursor.y, self.cursor.x = y, x

    return cast("type[_Recorder]", Recorder), Stream


@cache
def _drawable(char: str) -> bool:
    """Whether pyte can put ``char`` on the screen (or combine it with the cell before)."""
    from wcwidth import wcwidth  # pyte's own dependency

    width = wcwidth(char)
    return width > 0 or (width == 0 and unicodedata.combining(char) != 0)


if TYPE_CHECKING:

    class _Recorder(pyte.Screen):
        scrolled: list[str]

        def row(self, y: int) -> str: ...

        def scroll_up(self, count: int = 1) -> None: ...

        def scroll_down(self, count: int = 1) -> None: ...


def _clean(line: str) -> str:
    text = "".join(ch for ch in line if unicodedata.category(ch) != "Cc")
    return text.rstrip()


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        text = _clean(line)
        if not text and (not out or not out[-1]):
            continue
        out.append(text)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)
