"""The transcript a Codex pane's log draws: its raw bytes replayed on a terminal emulator.

The Codex TUI run with ``--no-alt-screen`` draws inline: colours, cursor
movement, scroll regions, OSC titles and its private ``ESC ] 7501`` state
sequences. :func:`render` replays the bytes through a terminal emulator (pyte)
and returns what a person scrolling back in the pane would read: the lines
that scrolled off the top, in order, then the final screen. Text the TUI drew
and then erased in place (its live area: the status line, a prompt before it
was answered) is not kept, exactly as in the pane's own scrollback; Codex
writes the outcome of each prompt into the transcript ("✔ You approved …").

A resumed task's log holds several runs (attempts, see
:mod:`tmux_codex.codex.logtext`), each drawn on a fresh pane: they are
rendered one by one and joined with their separator lines.

Sequences that draw nothing (colours, titles, Codex's state escapes, cursor
visibility, synchronized-update marks) are dropped before the emulator sees
the bytes: they are most of what a TUI writes. :class:`Renderer` renders a
stream fed in chunks (``tmux_codex.tasks.logfile`` reads logs with it, a
bounded piece at a time); started with ``unknown=True`` it begins on a screen
whose every cell is :data:`UNKNOWN`, which tells whether a window of the log
was enough to know what the screen holds. :class:`Tidy` turns rendered lines
into tidy text.

pyte is imported only when rendering runs (:mod:`tmux_codex.codex.terminal`),
so importing this module is cheap.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from tmux_codex.codex.logtext import attempts
from tmux_codex.codex.terminal import TOLERATED, Tolerant, screen_classes

if TYPE_CHECKING:
    import pyte

__all__ = ["UNKNOWN", "Renderer", "Tidy", "render"]

#: A cell whose content a window of the log does not say (never in rendered text).
UNKNOWN = "\uffff"

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
        recorder, stream_class = screen_classes()
        self.screen = recorder(max(1, width), max(1, height))
        self._stream = stream_class()
        self._stream.attach(cast("pyte.Screen", Tolerant(self.screen)))
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
            except TOLERATED:  # as Tolerant does: a sequence the screen cannot take
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


def _clean(line: str) -> str:
    text = "".join(ch for ch in line if unicodedata.category(ch) != "Cc")
    return text.rstrip()
