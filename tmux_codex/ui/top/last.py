"""The ``LAST`` column: one line of what a task is doing, from its fields or its log's end."""

from __future__ import annotations

import os
import re

from tmux_codex.core.models import Task
from tmux_codex.ui.top.text import one_line

#: How much of a log's end ``LAST`` looks at.
LOG_TAIL = 4096

#: Lines of the Codex TUI's own chrome (composer, footer, status line): not output.
_CHROME = re.compile(
    r"^\s*›"  # the composer
    r"|for shortcuts|esc to interrupt|background terminal|f2 to view|^\s*← for agents"
    r"|^\s*Worked for\b|^\s*[•◦]?\s*Working \(|^\s*⚠ \d+ warnings?"
    r"|^\s+\S+(?: \S+)? · [~/]"  # "  model effort · /workdir · title"
    r"|^\s*· "  # a piece of that line, redrawn alone
)
#: A synchronized update's start: Codex draws each frame between ``?2026h`` and ``?2026l``.
_FRAME_START = b"\x1b[?2026h"
_FRAME_END = b"\x1b[?2026l"
#: A cursor move to a row (``CSI row ; col H``); group 1: the row.
_TO_ROW = re.compile(rb"\x1b\[(\d*)(?:;\d*)?[Hf]")
#: Where a frame leaves the cursor shown: in the composer, the row of its last line.
_PARKED = re.compile(rb"\x1b\[(\d+);\d+H\x1b\[\?25h")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
#: An escape sequence still being written at the end of a log (no final byte or terminator yet).
_UNFINISHED = re.compile(rb"\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*|[\]P^_X][^\x07\x1b]*)?\Z")
_tail_cache: dict[str, tuple[tuple[int, int], str]] = {}


def last_line(task: Task) -> str:
    """What the ``LAST`` column shows for ``task`` (one line, no control characters)."""
    text = ""
    if task.state == "waiting" and task.prompt_text:
        text = _prompt_line(task.prompt_text)
    elif task.state in ("idle", "done"):
        text = task.last_message or ""
    elif task.state == "failed":
        text = task.error or ""
    elif task.state == "queued":
        return _queued(task)
    text = one_line(text) or _log_line(task.log_path)
    if not text and task.state == "failed" and task.exit_code is not None:
        text = f"exit status {task.exit_code}"
    return one_line(text)


def _queued(task: Task) -> str:
    """What a queued task waits for."""
    if task.reason == "after" and task.after:
        return "waits for task " + ", ".join(str(i) for i in task.after) + " to be done"
    return "waits for a free slot ([fleet] max_parallel)"


def _prompt_line(prompt: str) -> str:
    lines = [line.strip() for line in prompt.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("$ "):
            return line
    return lines[0] if lines else ""


def _log_line(path: str) -> str:
    """The last line of text in the last :data:`LOG_TAIL` bytes of a log ('' if none)."""
    try:
        info = os.stat(path)
    except OSError:
        return ""
    key = (info.st_size, info.st_mtime_ns)
    cached = _tail_cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with open(path, "rb") as fh:
            start = max(info.st_size - LOG_TAIL, 0)
            fh.seek(start)
            raw = fh.read(LOG_TAIL)
    except OSError:
        return ""
    if start > 0:
        # Cut mid-line or mid-escape: start at the next line or escape sequence.
        cuts = [i for i in (raw.find(b"\n"), raw.find(b"\x1b")) if i >= 0]
        raw = raw[min(cuts) :] if cuts else b""
    raw = _below_composer_dropped(_finished(raw))
    from tmux_codex.codex.logtext import strip_escapes

    found = ""
    for line in reversed(strip_escapes(raw).splitlines()):
        if len(_LETTERS.findall(line)) >= 2 and not _CHROME.search(line):
            found = one_line(line)
            break
    _tail_cache[path] = (key, found)
    return found


def _below_composer_dropped(raw: bytes) -> bytes:
    """``raw`` without what each frame drew on the composer's row or below it.

    Below the composer are only the footer (model, workdir and the thread's
    title) and the key hints. Codex redraws only the cells that change, so a
    new title (0.171.0 first shows the prompt, then the generated title) is
    written in scraps, ``Fak`` and ``complete``, that look like output. A frame
    that ends with the cursor shown in the composer says where the composer is;
    what it drew at that row or below (or before its first move: the cursor
    starts a frame where the last one left it) is left out. Frames with no
    cursor there (a prompt is up, ``codex exec``) are kept whole; a frame not
    all written yet is left for the next look.
    """
    frames = raw.split(_FRAME_START)
    if len(frames) > 1 and _FRAME_END not in frames[-1]:
        frames[-1] = b""  # still being written: the rest comes with the next read
    for index, frame in enumerate(frames):
        parks = list(_PARKED.finditer(frame))
        if not parks:
            continue
        parked = parks[-1]
        composer = int(parked.group(1))
        # A frame starts where the one before left the cursor: in the composer.
        kept: list[bytes] = []
        row = composer  # the row of the run being read
        start = 0
        for move in _TO_ROW.finditer(frame, 0, parked.start()):
            kept.append(frame[start : move.start()] if row < composer else b"")
            row, start = int(move.group(1) or 1), move.start()
        if row < composer:
            kept.append(frame[start : parked.start()])
        kept.append(frame[parked.start() :])
        frames[index] = b"".join(kept)
    return _FRAME_START.join(frames)


def _finished(raw: bytes) -> bytes:
    """``raw`` without an escape sequence or UTF-8 character still being written at its end."""
    last = raw.rfind(b"\x1b")
    if last >= 0 and _UNFINISHED.match(raw, last):
        raw = raw[:last]
    for back in range(1, min(len(raw), 4) + 1):
        byte = raw[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead
            continue
        if byte >= 0xC0 and back < (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4):
            raw = raw[:-back]
        break
    return raw
