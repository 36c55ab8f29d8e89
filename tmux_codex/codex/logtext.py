"""Readable text from the raw bytes ``pipe-pane`` wrote for a Codex pane.

The Codex TUI run with ``--no-alt-screen`` draws inline: colours, cursor
movement, scroll regions, OSC titles and its private ``ESC ] 7501`` state
sequences. :func:`render` replays the bytes through a terminal emulator (pyte)
and returns what a person scrolling back in the pane would read: the lines
that scrolled off the top, in order, then the final screen. Text the TUI drew
and then erased in place (its live area: the status line, a prompt before it
was answered) is not kept, exactly as in the pane's own scrollback; Codex
writes the outcome of each prompt into the transcript ("✔ You approved …").

A resumed task's log holds several runs (attempts), each drawn on a fresh
pane and each after a separator line (:data:`RESUME_SEPARATOR`): they are
rendered one by one and joined with that line.

Sequences that draw nothing (colours, titles, Codex's state escapes, cursor
visibility, synchronized-update marks) are dropped before the emulator sees
the bytes: they are most of what a TUI writes. :class:`Renderer` renders a
stream fed in chunks (``tmux_codex.logfile`` reads logs with it, a bounded
piece at a time); started with ``unknown=True`` it begins on a screen whose
every cell is :data:`UNKNOWN`, which tells whether a window of the log was
enough to know what the screen holds.

pyte is imported only when rendering runs, so importing this module is cheap.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import deque
from collections.abc import Callable
from functools import cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pyte

__all__ = [
    "RESUME_SEPARATOR",
    "SEPARATOR_LEAD",
    "UNKNOWN",
    "Renderer",
    "Tidy",
    "attempts",
    "end_mark",
    "render",
    "run_ended",
    "separator_line",
    "states",
    "strip_escapes",
    "tail",
]

#: The start of the line ``resume`` writes into a log before the resumed run.
RESUME_SEPARATOR = b"==== tmux-codex: resumed"
#: What ``resume`` writes before the separator (the line it ends is the old run's).
SEPARATOR_LEAD = b"\r\n\x1b[0m"
#: A cell whose content a window of the log does not say (never in rendered text).
UNKNOWN = "\uffff"

_STATE = re.compile(rb"\x1b\]7501;state=([^\x07\x1b]*)(?:\x07|\x1b\\)")

# Sequences pyte would misread and print as text; none of them draws anything:
# CSI with a "<", "=" or ">" prefix (keyboard protocol, modifyOtherKeys) or with
# ":" sub-parameters (colours), and DCS/SOS/PM/APC strings.
_UNPARSEABLE = re.compile(
    rb"\x1b\[(?:[<=>][\x30-\x3f]*|[\x30-\x3f]*:[\x30-\x3f]*)[\x20-\x2f]*[\x40-\x7e]"
    rb"|\x1b[P^_X][^\x07\x1b]*(?:\x07|\x1b\\)",
)
#: What is dropped before pyte reads the bytes: the sequences above, and those
#: that change no character on the screen: SGR (colours), OSC strings (titles,
#: Codex's state, tmux-codex's end mark), and private modes for the cursor's
#: visibility, synchronized updates, bracketed paste, focus and mouse reports.
_SKIP = re.compile(
    _UNPARSEABLE.pattern
    + rb"|\x1b\[[0-9;]*m"
    + rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    + rb"|\x1b\[\?(?:25|2026|2004|1004|100[0-6]|1015|12)[hl]"
)
#: A whole escape sequence (one that starts at an ESC and is complete).
_WHOLE = re.compile(
    rb"\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    rb"|[\]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)"
    rb"|[\x20-\x2f]*[\x30-\x7e])"
)
#: Sequences handed straight to the screen, as pyte's parser would (the bulk of
#: a TUI's redraws): cursor position, erase in line/display, scroll margins
#: (CSI without a private marker; group 1 the parameters, group 2 the final),
#: CR LF and reverse index.
_FAST = re.compile("\x1b\\[([0-9;]*)([HfJKr])|\r\n|\x1bM")
#: Bytes kept back from one chunk for the next when they may be a sequence cut
#: off by the chunk's end; a longer unterminated string is fed as it is.
_MAX_CARRY = 65536


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
_MOVES_TO_LINE = frozenset(b"HfdEF")
_DATA = attrgetter("data")
#: Printable ASCII.
_ASCII = "".join(
    chr(code) for code in range(0x20, 0x7F)
)  # CSI finals that put the cursor on another line


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


def attempts(raw: bytes) -> list[tuple[int, int, str | None]]:
    """The runs in a log: ``(start, end, separator)`` for each, oldest first.

    ``separator`` is the line ``resume`` wrote before the run (None for the
    first run), found by what ``resume`` writes before it too (``CR LF``, a
    colour reset); ``end`` leaves those bytes out.
    """
    found: list[tuple[int, int, str | None]] = []
    start, line = 0, None
    mark = SEPARATOR_LEAD + RESUME_SEPARATOR
    at = raw.find(mark)
    while at >= 0:
        found.append((start, at, line))
        line, start = separator_line(raw, at + len(SEPARATOR_LEAD))
        at = raw.find(mark, start)
    found.append((start, len(raw), line))
    return found


def separator_line(raw: bytes, at: int) -> tuple[str, int]:
    """The separator line starting at ``at`` in ``raw`` as text, and where the next run starts."""
    end = raw.find(b"\n", at, at + 1024)
    end = len(raw) if end < 0 else end
    text = strip_escapes(raw[at:end]).strip()
    return text, min(end + 1, len(raw))


def render(raw: bytes, width: int = 120, height: int = 40) -> str:
    """The transcript ``raw`` draws on a ``width`` × ``height`` terminal, as plain text.

    Lines scrolled off the top come first, in order, then the final screen.
    No escape or control characters, no trailing spaces, no leading or
    trailing blank lines, and never two blank lines in a row. Invalid UTF-8
    becomes U+FFFD. Each run of a resumed task is rendered on its own
    screen; the runs are joined by their separator lines.
    """
    parts: list[str] = []
    for start, end, line in attempts(raw):
        if line:
            parts.append(line)
        renderer = Renderer(width, height)
        renderer.feed(raw[start:end], final=True)
        parts.append(renderer.text())
    return "\n".join(part for part in parts if part)


class Tidy:
    """Rendered lines → tidy text, line by line: no control characters, no
    trailing spaces, no leading or trailing blank lines, never two blank lines
    in a row. ``write`` gets the text in pieces; their concatenation is the text.
    """

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write
        self._started = False
        self._blank = False

    def add(self, line: str) -> None:
        text = _clean(line)
        if not text:
            self._blank = self._started
            return
        if self._started:
            self._write("\n\n" if self._blank else "\n")
        self._write(text)
        self._started, self._blank = True, False

    @property
    def started(self) -> bool:
        """Whether any text was written."""
        return self._started


class Renderer:
    """A terminal emulator fed a log's bytes chunk by chunk.

    ``unknown``: the screen starts with every cell :data:`UNKNOWN` and the
    cursor on its bottom line, for a window cut out of a log: what the window
    does not draw stays unknown. A window must start where the terminal's
    other state does not matter (a line start, or a frame that places the
    cursor itself). Chunks may end anywhere: an escape sequence cut off at
    the end of one is kept for the next (``final`` feeds everything).
    """

    def __init__(self, width: int, height: int, *, unknown: bool = False) -> None:
        recorder, stream_class = _classes()
        self.screen = recorder(max(1, width), max(1, height))
        self._stream = stream_class()
        self._stream.attach(cast("pyte.Screen", _Tolerant(self.screen)))
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._carry = b""
        if unknown:
            screen = self.screen
            mark = screen.default_char._replace(data=UNKNOWN)
            for y in range(screen.lines):
                row = screen.buffer[y]
                for x in range(screen.columns):
                    row[x] = mark
            screen.cursor.y = screen.lines - 1

    def feed(self, data: bytes, final: bool = False) -> None:
        data = self._carry + data if self._carry else data
        self._carry = b""
        if not final:
            last = data.rfind(b"\x1b")
            if last >= 0 and len(data) - last <= _MAX_CARRY and not _WHOLE.match(data, last):
                data, self._carry = data[:last], data[last:]
        text = self._decoder.decode(_SKIP.sub(b"", data), final)
        if text:
            self._feed(text)

    def _feed(self, text: str) -> None:
        """Feed decoded text: the commonest sequences straight to the screen,
        everything else (text runs included) through pyte's parser."""
        stream, screen = self._stream, cast(Any, self.screen)
        feed = stream.feed
        done = 0
        for match in _FAST.finditer(text):
            start = match.start()
            if start > done:
                feed(text[done:start])
            done = match.end()
            if not getattr(stream, "_taking_plain_text", False):
                feed(match.group())  # pyte is inside a sequence: let it see this too
                continue
            final = match.group(2)
            if final is None:
                if match.group() == "\x1bM":
                    screen.reverse_index()
                else:
                    screen.carriage_return()
                    screen.linefeed()
                continue
            params = [min(int(p or 0), 9999) for p in match.group(1).split(";")]
            try:
                if final == "K":
                    screen.erase_in_line(*params)
                elif final == "J":
                    screen.erase_in_display(*params)
                elif final == "r":
                    screen.set_margins(*params)
                else:
                    screen.cursor_position(*params)
            except _TOLERATED:  # as _Tolerant does: a sequence the screen cannot take
                pass
        if done < len(text):
            feed(text[done:])

    def take_scrolled(self) -> list[str]:
        """The lines scrolled off the top since the last call."""
        lines, self.screen.scrolled = self.screen.scrolled, []
        return lines

    def rows(self) -> list[str]:
        """The screen's lines as they are now."""
        return [self.screen.row(y) for y in range(self.screen.lines)]

    def text(self) -> str:
        """Every line scrolled off so far and the screen, as tidy text."""
        self.feed(b"", final=True)
        out: list[str] = []
        tidy = Tidy(out.append)
        for line in [*self.take_scrolled(), *self.rows()]:
            tidy.add(line)
        return "".join(out)


#: What a screen method may raise on arguments it cannot take.
_TOLERATED = (TypeError, ValueError, IndexError, KeyError, OverflowError)


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
            except _TOLERATED:
                return None

        return call


@cache
def _classes() -> tuple[type[_Recorder], type[pyte.Stream]]:
    """The screen and stream classes, built on first use (pyte loads here)."""
    import pyte  # here, not at the top: CLI start-up time matters
    from wcwidth import wcwidth  # pyte's own dependency, as pyte's draw uses it

    class Stream(pyte.Stream):
        """pyte's stream (fed decoded text), plus scroll up/down (``CSI n S``, ``CSI n T``)."""

        csi = {**pyte.Stream.csi, "S": "scroll_up", "T": "scroll_down"}  # noqa: RUF012

    plain_charset = pyte.charsets.LAT1_MAP
    narrow = set(_ASCII)  # characters one cell wide, as pyte's draw measures them

    def _all_narrow(data: str) -> bool:
        """Whether every character of ``data`` is one cell wide (learning new ones)."""
        for char in set(data).difference(narrow):
            if wcwidth(char) != 1:
                return False
            narrow.add(char)
        return True

    def autowrap(screen: pyte.Screen) -> bool:
        return pyte.modes.DECAWM in screen.mode and pyte.modes.IRM not in screen.mode

    class Recorder(pyte.Screen):
        """A pyte screen that keeps, as text, each line scrolled off its top.

        Like tmux, only a scroll whose region starts at the top line feeds the
        history; a line pushed out of a region lower down is gone.
        """

        def __init__(self, columns: int, lines: int) -> None:
            super().__init__(columns, lines)
            self.scrolled: list[str] = []
            self._cells: dict[pyte.screens.Char, dict[str, pyte.screens.Char]] = {}

        def row(self, y: int) -> str:
            line = self.buffer[y]
            # The line's blank, then the cells it holds (one past the last
            # column may hold one: pyte's insert_characters puts it there).
            text = [line.default.data] * (self.columns + 1)
            deque(map(text.__setitem__, line.keys(), map(_DATA, line.values())), maxlen=0)
            return "".join(text[: self.columns])

        def draw(self, data: str) -> None:
            # pyte stops drawing at the first character it cannot place (a
            # control character, a zero-width joiner, an emoji's variation
            # selector) and loses the rest of the text: skip those instead.
            plain = not self.charset and self.g0_charset is plain_charset and autowrap(self)
            if plain and (set(data) <= narrow or _all_narrow(data)):
                self._draw_narrow(data)
                return
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

        def _draw_narrow(self, data: str) -> None:
            """What pyte's ``draw`` does with characters one cell wide, in
            replace mode with autowrap on and no character set: a line's
            stretch at a time."""
            cursor, columns = self.cursor, self.columns
            cells = self._cells.get(cursor.attrs)
            if cells is None:
                cells = self._cells[cursor.attrs] = {}
            missing = set(data).difference(cells)
            for char in missing:
                cells[char] = cursor.attrs._replace(data=char)
            done, size = 0, len(data)
            while done < size:
                if cursor.x >= columns:
                    self.dirty.add(cursor.y)
                    self.carriage_return()
                    self.linefeed()
                x = cursor.x
                take = min(size - done, columns - x)
                stretch = map(cells.__getitem__, data[done : done + take])
                self.buffer[cursor.y].update(zip(range(x, x + take), stretch, strict=True))
                cursor.x = x + take
                done += take
            self.dirty.add(cursor.y)

        def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
            # pyte writes a blank into every cell a line holds; a fresh line is as blank.
            if how == 0:
                rows = range(self.cursor.y + 1, self.lines)
            elif how == 1:
                rows = range(self.cursor.y)
            elif how in (2, 3):
                rows = range(self.lines)
            else:  # no such erase (pyte would fail on it): nothing happens
                return
            self.dirty.update(rows)
            for y in rows:
                self.buffer.pop(y, None)
            if how in (0, 1):
                self.erase_in_line(how)

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
