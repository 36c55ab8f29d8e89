"""Log text without a terminal: the marks in a task's log, Codex's state escapes, a cheap rendering.

A task's log is the raw bytes ``pipe-pane`` wrote for its pane, with marks
tmux-codex wrote itself:

- a resumed task's log holds several runs (attempts), each drawn on a fresh
  pane and each after a separator line (:data:`RESUME_SEPARATOR`, after
  :data:`SEPARATOR_LEAD`): :func:`attempts` and :func:`separator_line`
  find them;
- the shim ends each run with an end mark no terminal draws
  (:func:`end_mark`): :func:`run_ended` tells that every byte of a run is in.

:func:`states` reads Codex's private ``ESC ] 7501`` state escapes (which tmux
drops: only the raw bytes have them), and :func:`strip_escapes` is a cheap,
stateless rendering for following a log as it grows.

The transcript a person scrolling back in the pane would read is
:mod:`tmux_codex.codex.transcript`'s: it runs a terminal emulator. Nothing
here does, so importing this module is cheap.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "RESUME_SEPARATOR",
    "SEPARATOR_LEAD",
    "attempts",
    "end_mark",
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

#: Codex's state escape; group 1: its value.
_STATE = re.compile(rb"\x1b\]7501;state=([^\x07\x1b]*)(?:\x07|\x1b\\)")


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
#: CSI finals that put the cursor on another line.
_MOVES_TO_LINE = frozenset(b"HfdEF")


def strip_escapes(raw: bytes) -> str:
    """A cheap, stateless rendering of a chunk of raw bytes (for following a log).

    Escape sequences are dropped (a cursor move to another line becomes a line
    break, one within the line a space), then control characters other than
    newline and tab, and runs of blank lines become one; no terminal is
    emulated, so text that the TUI redraws in place repeats. Use
    :func:`tmux_codex.codex.transcript.render` for the real transcript.
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
