"""The terminal emulator a log is replayed on: pyte, loaded on first use.

:func:`screen_classes` builds (once) pyte's screen and stream, subclassed for
logs of a TUI: the screen (``Recorder``) keeps, as text, each line scrolled off
its top as tmux's history does, skips characters pyte cannot place instead of
losing the rest of the text, and draws runs of narrow characters a line's
stretch at a time; the stream adds scroll up and down (``CSI n S``/``T``).
:class:`Tolerant` wraps a screen so that a sequence whose arguments it cannot
take is skipped: a log may hold anything.

pyte is imported when :func:`screen_classes` first runs, not when this module
is: CLI start-up time matters.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from functools import cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pyte

__all__ = ["TOLERATED", "Tolerant", "screen_classes"]

#: A cell's character.
_DATA = attrgetter("data")
#: Printable ASCII.
_ASCII = "".join(chr(code) for code in range(0x20, 0x7F))

#: What a screen method may raise on arguments it cannot take.
TOLERATED = (TypeError, ValueError, IndexError, KeyError, OverflowError)


class Tolerant:
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
            except TOLERATED:
                return None

        return call


@cache
def screen_classes() -> tuple[type[_Recorder], type[pyte.Stream]]:
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
        """What :func:`screen_classes` adds to pyte's screen (for type checking)."""

        scrolled: list[str]

        def row(self, y: int) -> str: ...

        def scroll_up(self, count: int = 1) -> None: ...

        def scroll_down(self, count: int = 1) -> None: ...
