"""Reading a task's log file a bounded piece at a time.

A hung Codex TUI redraws its spinner about 100 KB a minute, so a day-long
task's log holds hundreds of MB. Nothing here reads a whole log into memory:

- :func:`raw_tail`, :func:`raw_head` and :func:`copy_raw`: the raw bytes (the
  last ones, the first ones, or all of them in chunks);
- :func:`render_stream`: the whole readable log, rendered chunk by chunk and
  written out as it comes (memory stays flat; time grows with the log);
- the bounded reads and backward searches the readable tail is made of
  (:func:`chunks`, :func:`rfind_byte`, :func:`rfind_bytes`,
  :func:`count_byte`, :func:`mapped_back`) and the runs of a resumed task's
  log (:func:`runs`, :func:`last_run`).

The last characters of the readable log, read from a window at the log's end,
are :func:`tmux_codex.tasks.logtail.render_tail`'s.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator
from io import BufferedReader

from tmux_codex.codex.logtext import RESUME_SEPARATOR, SEPARATOR_LEAD, separator_line
from tmux_codex.codex.transcript import Renderer, Tidy

__all__ = [
    "CHUNK",
    "SCAN",
    "chunks",
    "copy_raw",
    "count_byte",
    "last_run",
    "mapped_back",
    "raw_head",
    "raw_tail",
    "render_stream",
    "rfind_byte",
    "rfind_bytes",
    "runs",
]

#: Bytes read at a time.
CHUNK = 1 << 20
#: Bytes mapped at a time when a log is searched backwards.
SCAN = 16 << 20
#: How a run's separator line starts in the log (``resume`` writes the lead too).
_MARK = SEPARATOR_LEAD + RESUME_SEPARATOR


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
    for start, end, line in runs(fh, size):
        if line:
            out.part()
            out.write(line)
        out.part()
        tidy = Tidy(out.write)
        renderer = Renderer(width, height)
        for data in chunks(fh, start, end):
            renderer.feed(data)
            for scrolled in renderer.take_scrolled():
                tidy.add(scrolled)
        renderer.feed(b"", final=True)
        for scrolled in [*renderer.take_scrolled(), *renderer.rows()]:
            tidy.add(scrolled)


def chunks(fh: BufferedReader, start: int, stop: int) -> Iterator[bytes]:
    """The bytes of ``[start, stop)``, a chunk at a time."""
    pos = start
    while pos < stop:
        fh.seek(pos)
        data = fh.read(min(CHUNK, stop - pos))
        if not data:
            return
        pos += len(data)
        yield data


def mapped_back(
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


def rfind_byte(fh: BufferedReader, byte: bytes, lo: int, hi: int) -> int:
    """The last offset of ``byte`` in ``[lo, hi)``, or -1 (``memrchr``, window by window)."""
    for base, view, first, stop in mapped_back(fh, lo, hi):
        found = view.rfind(byte, first, stop)
        if found >= 0:
            return base + found
    return -1


def count_byte(fh: BufferedReader, byte: bytes, lo: int, hi: int) -> int:
    """How many times ``byte`` is in ``[lo, hi)``."""
    return sum(data.count(byte) for data in chunks(fh, lo, hi))


def rfind_bytes(fh: BufferedReader, needle: bytes, lo: int, hi: int) -> int:
    """The last offset of ``needle`` (several bytes) in ``[lo, hi)``, or -1."""
    for base, view, first, stop in mapped_back(fh, lo, hi, len(needle) - 1):
        found = view.rfind(needle, first, stop)
        if found >= 0:
            return base + found
    return -1


def last_run(fh: BufferedReader, end: int) -> tuple[int, str | None, int]:
    """The run that ends at ``end``: its start, the separator line before it, where the
    previous run ends; ``(0, None, 0)`` for the first run."""
    at = rfind_bytes(fh, _MARK, 0, end)
    if at < 0:
        return 0, None, 0
    fh.seek(at)
    head = fh.read(min(end - at, 1024 + len(_MARK)))
    line, start = separator_line(head, len(SEPARATOR_LEAD))
    return min(at + start, end), line, at


def runs(fh: BufferedReader, size: int) -> list[tuple[int, int, str | None]]:
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
    found: list[tuple[int, int, str | None]] = []
    start, line = 0, None
    for at in marks:
        found.append((start, at, line))
        fh.seek(at)
        head = fh.read(1024 + len(_MARK))
        line, offset = separator_line(head, len(SEPARATOR_LEAD))
        start = at + offset
    found.append((start, size, line))
    return found
