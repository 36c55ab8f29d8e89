"""The monitor's word: which live tasks' stored states a running monitor vouches for.

Every read command can classify a live task from a fresh ``capture-pane``
(:func:`tmux_codex.tasks.refresh.refresh`), so answers are right with no
monitor. A running monitor reads every task's log as it grows (the last MiB
of a burst) and looks at a task whenever those bytes, a hook, the shim or
another process's write can change its verdict; then the store already holds
what a fresh look would find, and the look (a tmux call and the classifier)
is wasted. The monitor says so in ``monitor-vouch.json``: for each task, the
log offset and the wake count its verdict accounts for, and that verdict's
:func:`fingerprint`. :func:`current` takes a live task as stored only while
all of this holds, and looks at every other one itself:

- the monitor that wrote the file still runs (it holds its lock, and the
  file carries the token of this run: a dead monitor's file is worthless);
- it is not behind: its next timer (a stall, a look put off) is not overdue;
- the stored verdict (state, reason, prompt) is the one it judged: one
  written by another process since (``send``, a read that looked) is not;
- nobody woke the monitor about the task since (hooks, Codex's notify, the
  shim, a command), and its log has not grown past the vouched offset, or
  only by bytes that would not make the monitor look (no state escape, and
  the task ``working`` or ``idle``: a busy task's spinner);
- the task's shim still runs (a window closed or a Codex that ended is a
  fresh look, whatever the monitor has seen yet).

Reading order matters: the file is read before the store and the counts
after it. The monitor writes the file once its own writes are committed,
and it reads the wake count before it looks.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from tmux_codex.core.lock import running
from tmux_codex.core.models import LIVE_STATES, STAMP, Task
from tmux_codex.core.paths import monitor_vouch, read_regular
from tmux_codex.core.wake import wakes

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context

#: The file's format; a file of another format vouches for nothing.
FORMAT = 2
#: A monitor whose next timer is this many seconds overdue is behind: its word waits.
GRACE = 2.0
#: Codex's state escape (CODEX.md), and the most bytes one takes.
STATE_ESCAPE = b"\x1b]7501;"
ESCAPE_MAX = 128
#: At most this much of a log the monitor has not read yet is read by a read command.
UNREAD_MAX = 64 << 10
#: The file is at most this big (read bounded; a bigger one vouches for nothing).
MAX_SIZE = 4 << 20

#: What the monitor vouches for of one task: its log offset, its wake count and
#: the fingerprint of the verdict it judged right (:func:`fingerprint`).
Entry = tuple[int, int, int]


def fingerprint(state: str, reason: str | None, prompt: str | None) -> int:
    """A verdict (state, reason, prompt text) as a number.

    The monitor vouches for the verdict it judged, not for whatever a row
    holds: a state another process wrote since (``send``, a read that looked
    before it did) differs, and is looked at afresh.
    """
    text = "\0".join((state, reason or "", prompt or ""))
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Word:
    """What a running monitor vouches for: task id → :data:`Entry`."""

    token: str
    due: float | None  # wall-clock time of its next timer
    tasks: dict[int, Entry]


def publish(home: Path, token: str, due: float | None, tasks: dict[int, Entry]) -> None:
    """Write the monitor's word (atomically: a reader sees the old file or the new one)."""
    path = monitor_vouch(home)
    body = {
        "format": FORMAT,
        "token": token,
        "due": due,
        "tasks": {str(k): list(v) for k, v in sorted(tasks.items())},
    }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def withdraw(home: Path) -> None:
    """The monitor takes its word back (it stops, or a turn failed)."""
    with contextlib.suppress(OSError):
        monitor_vouch(home).unlink()


def _count(value: object) -> int:
    """A count or offset as the file must hold it: a plain non-negative integer."""
    if type(value) is not int or value < 0:
        raise ValueError(value)
    return value


def read_word(home: Path, now: float | None = None) -> Word | None:
    """The running monitor's word, or None: no monitor, another run's file, or it is behind."""
    info = running(home)
    if info is None or not info.get("token") or not _alive(info.get("pid")):
        return None  # (a monitor that just took the lock has not voided a dead one's file yet)
    raw = read_regular(monitor_vouch(home), MAX_SIZE)
    if raw is None:
        return None
    try:
        body = json.loads(raw)
        if body.get("format") != FORMAT or body.get("token") != info["token"]:
            return None
        due = body.get("due")
        if due is not None and (type(due) not in (int, float) or not math.isfinite(due)):
            return None
        tasks: dict[int, Entry] = {}
        for key, value in body["tasks"].items():
            if type(value) is not list or len(value) != 3:
                return None
            offset, woken, print_ = (_count(v) for v in value)
            tasks[_count(int(key))] = (offset, woken, print_)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    clock = time.time() if now is None else now
    if due is not None and clock > due + GRACE:
        return None
    return Word(str(body["token"]), due, tasks)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def _vouched_mtime(home: Path, word: Word | None, task: Task) -> float | None:
    """The time of the task's last output when the word covers it as stored; else None."""
    if word is None or task.state not in LIVE_STATES or not task.window_id:
        return None
    entry = word.tasks.get(task.id)
    if entry is None:
        return None
    offset, woken, judged = entry
    if fingerprint(task.state, task.reason, task.prompt_text) != judged:
        return None
    if wakes(home, task.id) != woken:
        return None
    try:
        log = os.stat(task.log_path)
    except OSError:
        return None
    if log.st_size < offset:  # never done by tmux-codex: look
        return None
    if log.st_size > offset and not _weighs_nothing(task, offset, log.st_size):
        return None
    from tmux_codex.tasks.procs import shim_alive

    return log.st_mtime if shim_alive(task.shim_pid) else None


def _weighs_nothing(task: Task, offset: int, size: int) -> bool:
    """Whether bytes the monitor has not read yet cannot change the task's verdict.

    The monitor looks at a ``working`` or ``idle`` task because of its bytes
    only when they hold one of Codex's state escapes (a prompt, a turn's end,
    a turn's start: each announced before it is drawn); at a ``starting``,
    ``stalled`` or ``waiting`` one for anything new drawn (the next prompt of
    a turn comes with no escape), which only the monitor can tell from a
    repaint: a read looks at those for any byte. A busy task's spinner would
    otherwise make every read look at it. The bytes are read from a little
    before ``offset``, so an escape the offset cuts is found whole.
    """
    if task.state not in ("working", "idle") or size - offset > UNREAD_MAX:
        return False
    start = max(offset - ESCAPE_MAX, 0)
    try:
        with open(task.log_path, "rb") as fh:
            fh.seek(start)
            data = fh.read(size - start)
    except OSError:
        return False
    cut = offset - start
    at = data.find(STATE_ESCAPE)
    while at >= 0:
        ends = [e for e in (data.find(b"\x07", at), data.find(b"\x1b\\", at)) if e >= 0]
        if not ends or min(ends) >= cut:
            return False  # one the monitor has not weighed (or not whole yet)
        at = data.find(STATE_ESCAPE, at + 1)
    return True


def vouched(home: Path, word: Word | None, task: Task) -> bool:
    """Whether the monitor's word covers ``task`` as stored (read after the word)."""
    return _vouched_mtime(home, word, task) is not None


def current(ctx: Context, tasks: list[Task], word: Word | None) -> list[Task]:
    """``tasks`` (read from the store after ``word``) with every live one brought up to date.

    Those the monitor vouches for are taken as stored, with the time of their
    last output from their log (the monitor writes it only when it looks); the
    others are looked at in tmux (one batched capture), as with no monitor.
    """
    home = ctx.store.home
    taken: dict[int, Task] = {}
    stale: list[Task] = []
    for task in tasks:
        if task.state not in LIVE_STATES or not task.window_id:
            continue
        mtime = _vouched_mtime(home, word, task)
        if mtime is None:
            stale.append(task)
            continue
        output = datetime.fromtimestamp(mtime, timezone.utc).strftime(STAMP)
        if task.last_output_at is None or output > task.last_output_at:
            taken[task.id] = replace(task, last_output_at=output)
    if stale:
        from tmux_codex.tasks.refresh import refresh

        taken.update((t.id, t) for t in refresh(ctx, stale))
    return [taken.get(t.id, t) for t in tasks] if taken else tasks
