"""What new raw output from a Codex pane says, read without a terminal emulator.

The monitor reads each task's new log bytes as they come (DESIGN.md: the
"read" stage) and asks three things of them, all pure and cheap:

- Codex's state escapes (:func:`announcements`): where its turn is;
- whether they are progress (:func:`drawn_words`, :func:`is_progress`): text
  drawn besides the live status line that Codex redraws every second;
- whether the agent is looping (:func:`output_lines`, :func:`loop_key`,
  :func:`repeated_block`): the same block of output printed over and over.

The last two read :func:`visible_text`: the text bytes draw, each escape
sequence a space. What Codex draws (the status line, its timer, the state
escape) comes from the pattern table of its version
(:mod:`tmux_codex.codex.patterns`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from tmux_codex.codex.patterns import Patterns, patterns_for

__all__ = [
    "LOOP_MAX_BLOCK",
    "LOOP_REPEATS",
    "announcements",
    "drawn_words",
    "is_progress",
    "loop_key",
    "output_lines",
    "repeated_block",
    "visible_text",
]

#: Escape sequences and control bytes; what is left is text a terminal draws.
_CONTROL = re.compile(
    rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, Codex's state
    rb"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    rb"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, modes
    rb"|\x1b[ -/]*[0-~]"  # other escapes
    rb"|[\x00-\x08\x0b-\x1f\x7f]"
)


def visible_text(data: bytes) -> str:
    """The text raw terminal bytes draw, each escape sequence turned into a space."""
    return _CONTROL.sub(b" ", data).decode("utf-8", errors="replace")


def announcements(data: bytes, patterns: Patterns | None = None) -> list[str]:
    """Codex's state escapes in raw bytes, in order (``working:app=codex``, ...)."""
    table = patterns if patterns is not None else patterns_for()
    return [m.group(1).decode(errors="replace") for m in table.state_escape.finditer(data)]


def drawn_words(data: bytes, patterns: Patterns | None = None) -> list[str]:
    """The words raw bytes draw, less what the live status line draws.

    A Codex waiting on its model redraws ``• Working (43s • esc to interrupt)``
    every second, blinks the bullet and spins the title, forever. Those bytes
    draw only the status line's own words (or pieces of them, as the renderer
    redraws changed cells only), timer tokens and bullets; escapes draw
    nothing. Every other word is returned; one shortened with ``…`` (a long
    path at a narrow width) as its pieces.
    """
    return drawn_tokens(data, patterns)[1]


def drawn_tokens(data: bytes, patterns: Patterns | None = None) -> tuple[list[str], list[str]]:
    """Everything the bytes draw, split at blanks, and of that the words of
    :func:`drawn_words`."""
    table = patterns if patterns is not None else patterns_for()
    pieces = _status_pieces(table)
    timer = table.status_timer.fullmatch
    tokens = visible_text(data).replace("…", " ").split()
    # A timer token has a digit or a bullet: a word of letters is never one.
    words = [w for w in tokens if w not in pieces and (w.isalpha() or timer(w) is None)]
    return tokens, words


@functools.lru_cache(maxsize=16)
def _status_pieces(table: Patterns) -> frozenset[str]:
    """Every piece of the status line's words (and the replacement character)."""
    return frozenset(
        {"\ufffd"}
        | {
            word[start:end]
            for word in table.status_words
            for start in range(len(word))
            for end in range(start + 1, len(word) + 1)
        }
    )


def is_progress(data: bytes, patterns: Patterns | None = None) -> bool:
    """Whether new raw bytes draw anything but the live timer (see :func:`drawn_words`).

    Streamed text, a tool's output, a new screen are; so is a repaint of the
    same screen, which only :class:`tmux_codex.monitor.progress.Seen` tells apart.
    """
    return bool(drawn_words(data, patterns))


#: Looping: a block of at most this many lines...
LOOP_MAX_BLOCK = 12
#: ...repeated back to back at least this many times (a single line: twice as often).
LOOP_REPEATS = 4
#: Lines shorter than this (after normalising) are left out: blank lines, bullets, timers.
_LOOP_MIN_LINE = 12


#: Escapes that only colour text or set a title: they take no room in a printed line.
_NO_ROOM = re.compile(rb"\x1b\[[0-9;:]*m|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
#: Numbers that measure time: durations (``5ms``, ``2.1 s``, ``1m``), clock times and
#: dates. Two runs of the same command differ in them; a counter is not one of them.
_TIMES = re.compile(
    r"(?<![\w.])(?:"
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?Z?)?"
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
    r"|\d+(?:[.,]\d+)?\s?(?:ns|[µu]s|ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)"
    r")(?!\w)"
)


def output_lines(data: bytes) -> list[str]:
    """The lines raw bytes print, as printed: escapes out, ends trimmed, short lines left out.

    Colours and titles vanish; an escape that moves the cursor is a space.
    """
    lines = []
    for line in re.split(r"[\r\n]+", visible_text(_NO_ROOM.sub(b"", data))):
        text = line.strip()
        if len(loop_key(text)) >= _LOOP_MIN_LINE:
            lines.append(text)
    return lines


def loop_key(line: str) -> str:
    """A printed line as the loop guard compares it: spacing and times do not count.

    Every other digit does: ``progress line 000123`` and ``000124`` are two lines.
    """
    return " ".join(_TIMES.sub("#", line).split())


def repeated_block(lines: Sequence[str]) -> tuple[int, int] | None:
    """``(block size, times)`` when the last lines are one block repeated over and over.

    The seed workflow's "looping or hallucinating" agent: the same few lines of
    output again and again. Only back-to-back copies at the very end count.
    """
    for size in range(1, LOOP_MAX_BLOCK + 1):
        need = LOOP_REPEATS * (2 if size == 1 else 1)
        if len(lines) < size * need:
            break
        block = list(lines[-size:])
        times = 1
        while (
            len(lines) >= size * (times + 1)
            and list(lines[-size * (times + 1) : len(lines) - size * times]) == block
        ):
            times += 1
        if times >= need and len(set(block)) == size:
            return size, times
    return None
