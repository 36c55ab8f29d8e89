"""Reading a task's log file a bounded piece at a time.

A hung Codex TUI redraws its spinner about 100 KB a minute, so a day-long
task's log holds hundreds of MB. Nothing here reads a whole log into memory:

- :func:`raw_tail`, :func:`raw_head` and :func:`copy_raw`: the raw bytes (the
  last ones, the first ones, or all of them in chunks);
- :func:`render_stream`: the whole readable log, rendered chunk by chunk and
  written out as it comes (memory stays flat; time grows with the log);
- :func:`render_tail`: the last characters of the readable log, from a window
  at the end of the log.

How :func:`render_tail` picks its window. The terminal emulator cannot start
anywhere: what the screen holds at a point depends on every byte before it.
So a window is rendered on a screen whose every cell is *unknown*
(:data:`~tmux_codex.codex.transcript.UNKNOWN`), starting where no other state matters:
a synchronized-update frame (Codex's frames place the cursor before they
draw and leave the scroll region as they found it), else a line start (the
cursor on the bottom line, as in a terminal that has printed a screenful).
When no unknown cell is left in the last LIMIT characters of what it
renders, those characters are what rendering the whole log gives;
otherwise the window grows (×4, up to a cap) towards the start of the run,
where the pane was blank and nothing is unknown. The window starts out
covering everything since the last line feed (the last time the TUI wrote a
new line into its transcript), where the screen last changed beyond its
live area. A window of ``settle`` bytes or more whose extra bytes held a
screenful of line feeds, yet that gives no more text and knows no more of it
than the last, ends the search: what it does not know was drawn long before and never again (the
lines above a TUI that never filled its screen, say). Past the cap, or so
stopped, the lines it knew nothing of become one line saying what was left
out.

A hung TUI writes no line feed for hours: only in-place redraws of its live
area (spinner, timer). When the last line feed is more than ``stretch``
bytes back, the window ends a little after it instead (``keep`` bytes, at a
frame's end), plus the frame that last cleared the live area (``ESC [ J``),
when one is found in the last ``clear_scan`` bytes; what comes after is
left out, and a line says how much. The transcript is then exact; the live
area is as it was at the end of that window. (Each cell of a timer is
written only when its digit changes, so no bounded read can tell a timer's
last value.) Finding the last line feed reads the log's end backwards at
memory speed (``memrchr``), the only part whose cost grows with the log.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BufferedReader

from tmux_codex.codex.logtext import RESUME_SEPARATOR, SEPARATOR_LEAD, separator_line, tail
from tmux_codex.codex.transcript import UNKNOWN, Renderer, Tidy

__all__ = ["copy_raw", "raw_head", "raw_tail", "render_stream", "render_tail"]

#: Bytes read at a time.
CHUNK = 1 << 20
#: Bytes mapped at a time when a log is searched backwards.
SCAN = 16 << 20
#: How a run's separator line starts in the log (``resume`` writes the lead too).
_MARK = SEPARATOR_LEAD + RESUME_SEPARATOR
_FRAME_START = b"\x1b[?2026h"
_FRAME_END = b"\x1b[?2026l"
_CLEARS = (b"\x1b[J", b"\x1b[0J", b"\x1b[2J")
_CURSOR_MOVE = re.compile(rb"\x1b\[\d+;\d+H")

#: The first window past the last line feed, and the largest window.
WINDOW = 64 << 10
CAP = 4 << 20
#: Below this, a window grows on even when it knew no more than the last (it is cheap).
SETTLE = 256 << 10
#: In-place redraws longer than this since the last line feed are left out.
STRETCH = 1 << 20
#: What is kept after the last line feed or live-area clear when they are.
KEEP = 16 << 10
#: How far back the last clear of the live area is looked for.
CLEAR_SCAN = 16 << 20


def raw_tail(path: str, limit: int) -> bytes:
    """The last ``limit`` bytes of the file (all of it if shorter); b"" if there is none."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - limit))
            return fh.read(limit)
    except FileNotFoundError:
        return b""


def raw_head(path: str, limit: int) -> bytes:
    """The first ``limit`` bytes of the file; b"" if there is none."""
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except FileNotFoundError:
        return b""


def copy_raw(path: str, write: Callable[[bytes], object]) -> None:
    """Every byte of the file, in chunks; nothing if there is no file."""
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                write(chunk)
    except FileNotFoundError:
        return


class _Joiner:
    """Writes parts of text (runs, separator lines) with one newline between parts."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write
        self._wrote = False
        self._fresh = True

    def part(self) -> None:
        """What is written next starts a new part."""
        self._fresh = True

    def write(self, text: str) -> None:
        if not text:
            return
        if self._fresh and self._wrote:
            self._write("\n")
        self._write(text)
        self._wrote, self._fresh = True, False


def render_stream(path: str, write: Callable[[str], object], width: int, height: int) -> None:
    """The whole readable log (as :func:`~tmux_codex.codex.transcript.render` gives it), in pieces.

    Reads and renders a chunk at a time and writes the lines that scrolled off
    as they come: memory stays flat however long the log.
    """
    try:
        with open(path, "rb") as fh:
            _stream(fh, _Joiner(write), width, height)
    except FileNotFoundError:
        return


def _stream(fh: BufferedReader, out: _Joiner, width: int, height: int) -> None:
    size = os.fstat(fh.fileno()).st_size
    for start, end, line in _runs(fh, size):
        if line:
            out.part()
            out.write(line)
        out.part()
        tidy = Tidy(out.write)
        renderer = Renderer(width, height)
        for data in _chunks(fh, start, end):
            renderer.feed(data)
            for scrolled in renderer.take_scrolled():
                tidy.add(scrolled)
        renderer.feed(b"", final=True)
        for scrolled in [*renderer.take_scrolled(), *renderer.rows()]:
            tidy.add(scrolled)


def render_tail(
    path: str,
    limit: int,
    width: int,
    height: int,
    *,
    resumed: bool = True,
    window: int = WINDOW,
    cap: int = CAP,
    stretch: int = STRETCH,
    keep: int = KEEP,
    clear_scan: int = CLEAR_SCAN,
    settle: int = SETTLE,
) -> str:
    """The last ``limit`` characters of the readable log, read from its end.

    ``resumed``: whether the log may hold runs after separator lines (a task
    whose ``attempt`` is 1 has none: no need to look for them). See the
    module's docstring for how the window is chosen; the other arguments are
    its sizes.
    """
    sizes = _Sizes(window, cap, stretch, keep, clear_scan, settle)
    parts: list[str] = []
    try:
        with open(path, "rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            while True:
                begin, line, previous_end = _last_run(fh, end) if resumed else (0, None, 0)
                parts[:0] = [_run_tail(fh, begin, end, limit, width, height, sizes)]
                if line is None or sum(len(p) + 1 for p in parts if p) > limit:
                    break
                parts[:0] = [line]
                end = previous_end
    except FileNotFoundError:
        return ""
    return tail("\n".join(p for p in parts if p), limit)


@dataclass(frozen=True)
class _Sizes:
    window: int
    cap: int
    stretch: int
    keep: int
    clear_scan: int
    settle: int


def _run_tail(
    fh: BufferedReader, begin: int, end: int, limit: int, width: int, height: int, sizes: _Sizes
) -> str:
    """The last ``limit`` characters of the run in ``[begin, end)``, rendered."""
    if end <= begin or limit <= 0:
        return ""
    last_feed = _rfind_byte(fh, b"\n", begin, end)
    anchor = begin if last_feed < 0 else last_feed
    stop, extra, left_out = end, [], 0
    if end - anchor > sizes.stretch and _draws_in_place(fh, max(begin, end - sizes.keep), end):
        # A long stretch of in-place redraws: keep a little of it after the
        # last line feed, and the frame that last cleared the live area.
        stop = last = _frame_end(fh, anchor + sizes.keep, end)
        clear = _rfind_clear(fh, max(stop, end - sizes.clear_scan), end)
        frame = _rfind_bytes(fh, _FRAME_START, max(stop, clear - sizes.keep), clear + 1)
        if clear >= 0 and frame >= 0:
            last = end if end - clear <= sizes.stretch else _frame_end(fh, clear + sizes.keep, end)
            extra = [(frame, last)]
        left_out = end - last
    size = stop - anchor + sizes.window
    unknown = known = -1
    before = stop
    while True:
        start = max(begin, stop - size)
        text = _render(fh, [(start, stop), *extra], start == begin, width, height)
        if left_out:
            text = "\n".join(t for t in (text, _left_out(left_out)) if t)
        found = tail(text, limit)
        if start == begin or (UNKNOWN not in found and len(found) >= limit):
            return found
        # A window that added a screenful of line feeds (new lines, scrolls)
        # to the last and gives no more text and knows no more of it: what is
        # unknown was drawn long before and never again (the lines above a
        # TUI that never filled its screen, say). Stop there.
        was = (unknown, known)
        unknown = found.count(UNKNOWN)
        known = len(found) - unknown
        stuck = 0 < was[0] <= unknown and known <= was[1]
        stuck = stuck and size >= sizes.settle
        if size >= sizes.cap or (stuck and _count_byte(fh, b"\n", start, before) >= height):
            return tail(_forget_unknown(text, stop - start), limit)
        before = start
        size = min(size * 4, sizes.cap)


def _render(
    fh: BufferedReader, segments: list[tuple[int, int]], known: bool, width: int, height: int
) -> str:
    """Render byte ranges of the log one after the other on one screen.

    ``known``: the first range starts a run (a blank pane); otherwise the
    screen starts unknown. Each range after a cut starts at a frame or line.
    """
    renderer = Renderer(width, height, unknown=not known)
    for index, (start, stop) in enumerate(segments):
        if index > 0 or not known:
            start = _align(fh, start, stop)
        for data in _chunks(fh, start, stop):
            renderer.feed(data)
        renderer.feed(b"", final=True)
    return renderer.text()


def _align(fh: BufferedReader, start: int, stop: int) -> int:
    """Where a window cut out of a log at ``start`` can begin: at a frame, else a
    line, else an escape sequence (looked for in the next 64 KB)."""
    fh.seek(start)
    data = fh.read(min(stop - start, 1 << 16))
    found = data.find(_FRAME_START)
    if found >= 0:
        return start + found
    found = data.find(b"\n")
    if found >= 0:
        return start + found + 1
    found = data.find(b"\x1b")
    return start + found if found >= 0 else stop


def _forget_unknown(text: str, window: int) -> str:
    """``text`` as far as a window of ``window`` bytes knows it: a cell it did
    not know is a space; lines it knew nothing of are one line saying so."""
    out: list[str] = []
    tidy = Tidy(out.append)
    noted = False
    for line in text.split("\n"):
        if UNKNOWN in line:
            if not line.replace(UNKNOWN, "").strip():
                if not noted:
                    tidy.add(
                        f"==== tmux-codex: what was drawn before the last {_size(window)} "
                        "is left out ===="
                    )
                noted = True
                continue
            line = line.replace(UNKNOWN, " ")
        noted = False
        tidy.add(line)
    return "".join(out)


def _left_out(count: int) -> str:
    return f"==== tmux-codex: {_size(count)} of in-place redraws (a spinner, a timer) left out ===="


def _size(count: int) -> str:
    return f"{count / (1 << 20):.1f} MB" if count >= 1 << 20 else f"{max(1, count >> 10)} KB"


def _chunks(fh: BufferedReader, start: int, stop: int) -> Iterator[bytes]:
    """The bytes of ``[start, stop)``, a chunk at a time."""
    pos = start
    while pos < stop:
        fh.seek(pos)
        data = fh.read(min(CHUNK, stop - pos))
        if not data:
            return
        pos += len(data)
        yield data


def _mapped_back(
    fh: BufferedReader, lo: int, hi: int, overlap: int = 0
) -> Iterator[tuple[int, mmap.mmap, int, int]]:
    """``[lo, hi)`` mapped ``SCAN`` bytes at a time, from its end back.

    Yields the mapping's offset in the file, the mapping, and the part of it
    to search (``first``, ``stop``); a window reaches ``overlap`` bytes into
    the one after it, for what starts in one and ends in the other. The
    mapped pages are the file's own (no copy), unmapped after each window.
    """
    end = hi
    while end > lo:
        start = max(lo, end - SCAN)
        base = start - start % mmap.ALLOCATIONGRANULARITY
        stop = min(hi, end + overlap)
        with mmap.mmap(fh.fileno(), stop - base, offset=base, access=mmap.ACCESS_READ) as view:
            yield base, view, start - base, stop - base
        end = start


def _rfind_byte(fh: BufferedReader, byte: bytes, lo: int, hi: int) -> int:
    """The last offset of ``byte`` in ``[lo, hi)``, or -1 (``memrchr``, window by window)."""
    for base, view, first, stop in _mapped_back(fh, lo, hi):
        found = view.rfind(byte, first, stop)
        if found >= 0:
            return base + found
    return -1


def _count_byte(fh: BufferedReader, byte: bytes, lo: int, hi: int) -> int:
    """How many times ``byte`` is in ``[lo, hi)``."""
    return sum(data.count(byte) for data in _chunks(fh, lo, hi))


def _rfind_bytes(fh: BufferedReader, needle: bytes, lo: int, hi: int) -> int:
    """The last offset of ``needle`` (several bytes) in ``[lo, hi)``, or -1."""
    for base, view, first, stop in _mapped_back(fh, lo, hi, len(needle) - 1):
        found = view.rfind(needle, first, stop)
        if found >= 0:
            return base + found
    return -1


def _rfind_clear(fh: BufferedReader, lo: int, hi: int) -> int:
    """Where the last ``ESC [ J`` (``0J``, ``2J``: a clear to the end of the screen)
    in ``[lo, hi)`` starts, or -1.

    Each ``J`` is found with ``memrchr`` and the bytes before it looked at;
    a window with many ``J`` in text is searched for the sequences instead.
    """
    for base, view, first, stop in _mapped_back(fh, lo, hi, 3):
        at, looked = stop, 0
        while (at := view.rfind(b"J", first, at)) >= 0 and looked < 256:
            looked += 1
            for size in (2, 3):
                begin = at - size
                if begin >= first and view[begin : at + 1] in _CLEARS:
                    return base + begin
        if at >= 0:  # too many: search for the sequences themselves
            found = max(view.rfind(clear, first, stop) for clear in _CLEARS)
            if found >= 0:
                return base + found
    return -1


def _frame_end(fh: BufferedReader, pos: int, hi: int) -> int:
    """The end of the frame going on at ``pos`` (or of the escape sequence), at most ``hi``."""
    if pos >= hi:
        return hi
    fh.seek(pos)
    data = fh.read(min(hi - pos, 1 << 16))
    found = data.find(_FRAME_END)
    if found >= 0:
        return pos + found + len(_FRAME_END)
    found = data.find(b"\x1b")
    return pos + found if found >= 0 else min(hi, pos + len(data))


def _draws_in_place(fh: BufferedReader, lo: int, hi: int) -> bool:
    """Whether ``[lo, hi)`` looks like a TUI redrawing in place (frames or cursor moves)."""
    fh.seek(lo)
    data = fh.read(hi - lo)
    return _FRAME_START in data or _CURSOR_MOVE.search(data) is not None


def _last_run(fh: BufferedReader, end: int) -> tuple[int, str | None, int]:
    """The run that ends at ``end``: its start, the separator line before it, where the
    previous run ends; ``(0, None, 0)`` for the first run."""
    at = _rfind_bytes(fh, _MARK, 0, end)
    if at < 0:
        return 0, None, 0
    fh.seek(at)
    head = fh.read(min(end - at, 1024 + len(_MARK)))
    line, start = separator_line(head, len(SEPARATOR_LEAD))
    return min(at + start, end), line, at


def _runs(fh: BufferedReader, size: int) -> list[tuple[int, int, str | None]]:
    """Every run in the log: ``(start, end, separator line)``, oldest first."""
    marks: list[int] = []
    pos = 0
    while pos < size:
        fh.seek(pos)
        data = fh.read(CHUNK + len(_MARK) - 1)
        at = data.find(_MARK)
        while 0 <= at < CHUNK:
            marks.append(pos + at)
            at = data.find(_MARK, at + 1)
        pos += CHUNK
    runs: list[tuple[int, int, str | None]] = []
    start, line = 0, None
    for at in marks:
        runs.append((start, at, line))
        fh.seek(at)
        head = fh.read(1024 + len(_MARK))
        line, offset = separator_line(head, len(SEPARATOR_LEAD))
        start = at + offset
    runs.append((start, size, line))
    return runs
