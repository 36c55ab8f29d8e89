"""The last characters of a task's readable log, read from a window at the log's end.

:func:`render_tail` (``tmux-codex log --limit``, ``report``) reads a bounded
window of the log, however long the log (see :mod:`tmux_codex.tasks.logfile`).

How it picks its window. The terminal emulator cannot start anywhere: what
the screen holds at a point depends on every byte before it. So a window is
rendered on a screen whose every cell is *unknown*
(:data:`~tmux_codex.codex.transcript.UNKNOWN`), starting where no other state
matters: a synchronized-update frame (Codex's frames place the cursor before they
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
than the last, ends the search: what it does not know was drawn long before
and never again (the lines above a TUI that never filled its screen, say). Past the cap, or so
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

import os
import re
from dataclasses import dataclass
from io import BufferedReader

from tmux_codex.codex.logtext import tail
from tmux_codex.codex.transcript import UNKNOWN, Renderer, Tidy
from tmux_codex.tasks.logfile import (
    chunks,
    count_byte,
    last_run,
    mapped_back,
    rfind_byte,
    rfind_bytes,
)

__all__ = ["render_tail"]

#: A synchronized-update frame's start and end, the clears of the live area, a cursor move.
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
                begin, line, previous_end = last_run(fh, end) if resumed else (0, None, 0)
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
    last_feed = rfind_byte(fh, b"\n", begin, end)
    anchor = begin if last_feed < 0 else last_feed
    stop, extra, left_out = end, [], 0
    if end - anchor > sizes.stretch and _draws_in_place(fh, max(begin, end - sizes.keep), end):
        # A long stretch of in-place redraws: keep a little of it after the
        # last line feed, and the frame that last cleared the live area.
        stop = last = _frame_end(fh, anchor + sizes.keep, end)
        clear = _rfind_clear(fh, max(stop, end - sizes.clear_scan), end)
        frame = rfind_bytes(fh, _FRAME_START, max(stop, clear - sizes.keep), clear + 1)
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
        if size >= sizes.cap or (stuck and count_byte(fh, b"\n", start, before) >= height):
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
        for data in chunks(fh, start, stop):
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


def _rfind_clear(fh: BufferedReader, lo: int, hi: int) -> int:
    """Where the last ``ESC [ J`` (``0J``, ``2J``: a clear to the end of the screen)
    in ``[lo, hi)`` starts, or -1.

    Each ``J`` is found with ``memrchr`` and the bytes before it looked at;
    a window with many ``J`` in text is searched for the sequences instead.
    """
    for base, view, first, stop in mapped_back(fh, lo, hi, 3):
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
