"""``tmux-codex top``: the fleet at a glance, live, for a tmux ``display-popup``.

A table of every task (live ones first, by id; then ended ones, the most
recently ended first) with its state, age and one line of what it is doing:

- ``AGE`` is the time since the task was started (its ``created_at``), as in
  ``tmux-codex list``; it does not jump back when the state changes.
- ``LAST`` is one line: for a task ``waiting`` at a prompt, the prompt's
  command line (``$ …``) or its first line; for an ``idle`` or ``done`` task,
  Codex's last message; for a ``failed`` one, its error; otherwise the last
  line of text in the last 4 KB of its log (TUI chrome left out).

Keys: Up/Down (k/j) select, Enter switches the tmux client to the task's
window (and quits, so the popup closes), ``a``/``d`` approve/deny the
selected task's prompt, ``l`` shows its log in ``less``, ``r`` looks at the
live tasks in tmux now, ``q``/Escape quits.

It reads the store only (the monitor keeps states current) and redraws on
events, not on a busy loop: an inotify watch on the state directory (the
store's files), ``wake/`` and ``logs/`` wakes it, SQLite's ``data_version``
says whether the store changed, and a one-second tick moves the ages on.
``--once`` prints the table to stdout instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tmux_codex.core.errors import NotPossible, TmuxCodexError
from tmux_codex.core.models import FINAL_STATES, Task, age
from tmux_codex.monitor.notify import WINDOW_MARKS

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context

__all__ = ["last_line", "main", "order_tasks", "render_rows", "run"]

#: A mark before each state: the same as the window marks the monitor sets.
MARKS = WINDOW_MARKS
#: How much of a log's end ``LAST`` looks at.
LOG_TAIL = 4096
#: Redraws for new log bytes alone, at most this often (seconds).
LOG_REDRAW = 0.25
#: The clock tick (seconds): ages move on, and the store is checked even with no event.
TICK = 1.0
HELP = "↑↓ select  ⏎ go to  a approve  d deny  l log  r refresh  q quit"


# -- text that fits -----------------------------------------------------------


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cells(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    return sum(_char_width(ch) for ch in text)


def fit(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns, ending in ``…`` when cut."""
    if width <= 0:
        return ""
    if cells(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        size = _char_width(ch)
        if used + size > width - 1:
            break
        out.append(ch)
        used += size
    return "".join(out) + "…"


def _pad(text: str, width: int, right: bool = False) -> str:
    text = fit(text, width)
    gap = " " * max(width - cells(text), 0)
    return gap + text if right else text + gap


def one_line(text: str | None) -> str:
    """``text`` on one line: control characters and runs of white space become one space."""
    if not text:
        return ""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc":
            kept.append(" ")
        elif category not in ("Cf", "Cs", "Co"):
            kept.append(ch)
    return " ".join("".join(kept).split())


# -- the LAST column --------------------------------------------------------------

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


def _prompt_line(prompt: str) -> str:
    lines = [line.strip() for line in prompt.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("$ "):
            return line
    return lines[0] if lines else ""


def last_line(task: Task) -> str:
    """What the ``LAST`` column shows for ``task`` (one line, no control characters)."""
    text = ""
    if task.state == "waiting" and task.prompt_text:
        text = _prompt_line(task.prompt_text)
    elif task.state in ("idle", "done"):
        text = task.last_message or ""
    elif task.state == "failed":
        text = task.error or ""
    text = one_line(text) or _log_line(task.log_path)
    if not text and task.state == "failed" and task.exit_code is not None:
        text = f"exit status {task.exit_code}"
    return one_line(text)


# -- the table ----------------------------------------------------------------------


def order_tasks(tasks: list[Task]) -> list[Task]:
    """Live tasks by id, then ended ones, the most recently ended first."""
    live = sorted((t for t in tasks if t.state not in FINAL_STATES), key=lambda t: t.id)
    ended = sorted(
        (t for t in tasks if t.state in FINAL_STATES),
        key=lambda t: (t.updated_at, t.id),
        reverse=True,
    )
    return live + ended


def render_rows(tasks: list[Task], width: int, now: datetime) -> list[str]:
    """The table: a header, then one line per task (in :func:`order_tasks` order).

    Columns: a state mark, ID, NAME, STATE[:REASON], AGE (since the task was
    started) and LAST (see :func:`last_line`). No line is wider than
    ``width`` columns; there are no escape or control characters, and no
    trailing spaces. Reads only the tails of live tasks' logs.
    """
    ordered = order_tasks(tasks)
    width = max(width, 0)
    id_w = max([2, *(len(str(t.id)) for t in ordered)])
    name_w = min(max([4, *(cells(one_line(t.name)) for t in ordered)]), 16)
    state_w = min(max([5, *(len(t.label) for t in ordered)]), 16)
    age_w = 4

    def fixed() -> int:
        return 2 + id_w + 2 + name_w + 2 + state_w + 2 + age_w + 2

    # Narrow: names, then states give way so LAST keeps some room.
    while width - fixed() < 16 and name_w > 8:
        name_w -= 1
    while width - fixed() < 16 and state_w > 7:
        state_w -= 1
    last_w = width - fixed()

    def row(mark: str, ident: str, name: str, state: str, when: str, last: str) -> str:
        line = (
            f"{_pad(mark, 1)} {_pad(ident, id_w, right=True)}  {_pad(name, name_w)}  "
            f"{_pad(state, state_w)}  {_pad(when, age_w, right=True)}  {fit(last, last_w)}"
        )
        return fit(line.rstrip(), width)

    lines = [row("", "ID", "NAME", "STATE", "AGE", "LAST")]
    for task in ordered:
        lines.append(
            row(
                MARKS.get(task.state, ""),
                str(task.id),
                one_line(task.name),
                task.label,
                age(task.created_at, now),
                last_line(task) if last_w > 0 else "",
            )
        )
    return lines


# -- running ------------------------------------------------------------------------


def run(ctx: Context, once: bool = False, width: int | None = None) -> int:
    """``tmux-codex top``: the live table until ``q`` (or, with ``once``, print it); exit code.

    ``width`` (with ``once``): the table's width; the terminal's (or 80) if not given.
    """
    if once:
        columns = width if width is not None else shutil.get_terminal_size((80, 24)).columns
        lines = render_rows(ctx.store.tasks(), columns, datetime.now(timezone.utc))
        for line in lines:
            print(line)
        if len(lines) == 1:
            print("no tasks")
        sys.stdout.flush()
        return 0
    if not (os.isatty(0) and os.isatty(1)):
        raise NotPossible(
            "tmux-codex top needs a terminal ('tmux-codex top --once' prints the table)"
        )
    import curses
    import locale

    with contextlib.suppress(locale.Error):
        locale.setlocale(locale.LC_ALL, "")
    top = _Top(ctx)
    try:
        code: int = curses.wrapper(top.main)
    except curses.error as exc:
        raise NotPossible(f"tmux-codex top cannot use this terminal: {exc}") from None
    except KeyboardInterrupt:
        return 130
    finally:
        top.close()
    if top.exec_argv:
        sys.stdout.flush()
        os.execvp(top.exec_argv[0], top.exec_argv)
    return code


class _Top:
    """The interactive table: state, drawing and keys."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tasks: list[Task] = []
        self.selected: int | None = None  # the selected task's id
        self.offset = 0  # the first task row shown
        self.message = ""  # shown in the status line until the next key
        self.version = -1
        self.monitor = True
        self.exec_argv: list[str] = []
        self.scr: Any = None
        self.last_draw = 0.0
        self.logs_changed = False
        self.resized = False
        self.pipe_r, self.pipe_w = os.pipe()
        os.set_blocking(self.pipe_r, False)
        os.set_blocking(self.pipe_w, False)
        self.watch: Any = None

    # -- events --------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
            os.write(self.pipe_w, b"x")

    def _on_changes(self, changes: list[tuple[int, str, bool]]) -> None:
        """DirWatch's callback (its own thread): note what changed and wake the loop."""
        wake = False
        for index, name, _closed in changes:
            if index == 0 and name not in ("tasks.db", "tasks.db-wal"):
                continue
            if index == 2:
                self.logs_changed = True
            wake = True
        if wake:
            self._wake()

    def _on_winch(self, _signum: int, _frame: FrameType | None) -> None:
        self.resized = True
        self._wake()

    def _start_watch(self) -> None:
        from tmux_codex.core.paths import ensure_dir, logs_dir, wake_dir
        from tmux_codex.monitor.watch import DirWatch

        home = self.ctx.store.home
        try:
            dirs = [home, ensure_dir(wake_dir(home)), ensure_dir(logs_dir(home))]
            watch = DirWatch(dirs, self._on_changes, gather=0.05)
            watch.start()
        except Exception:  # no watch: the one-second tick still sees the store change
            return
        self.watch = watch

    def close(self) -> None:
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        for fd in (self.pipe_r, self.pipe_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the store -----------------------------------------------------------------

    def reload(self) -> None:
        from tmux_codex.core.lock import running

        store = self.ctx.store
        was = self._index()
        self.version = store.data_version()
        self.tasks = order_tasks(store.tasks())
        self.monitor = running(store.home) is not None
        ids = [t.id for t in self.tasks]
        if self.selected not in ids:  # gone (or the first load): the row where it was
            self.selected = ids[min(was, len(ids) - 1)] if ids else None

    def _index(self) -> int:
        for i, task in enumerate(self.tasks):
            if task.id == self.selected:
                return i
        return 0

    def _task(self) -> Task | None:
        return self.tasks[self._index()] if self.tasks and self.selected is not None else None

    # -- drawing ---------------------------------------------------------------------

    def _put(self, y: int, text: str, attr: int = 0, fill: bool = False) -> None:
        import curses

        height, width = self.scr.getmaxyx()
        if y < 0 or y >= height:
            return
        room = width - (1 if y == height - 1 else 0)  # the last cell of the screen cannot be set
        text = _pad(text, room) if fill else fit(text, room)
        try:
            self.scr.addstr(y, 0, text, attr)
        except curses.error:
            pass
        except UnicodeEncodeError:
            with contextlib.suppress(curses.error):
                self.scr.addstr(y, 0, text.encode("ascii", "replace").decode(), attr)

    def draw(self) -> None:
        import curses

        scr = self.scr
        scr.erase()
        height, width = scr.getmaxyx()
        lines = render_rows(self.tasks, width, datetime.now(timezone.utc))
        body = height - 2  # rows for tasks, between the header and the status line
        if height >= 2:
            self._put(0, lines[0], curses.A_BOLD)
        if body > 0 and not self.tasks:
            self._put(1, "no tasks ('tmux-codex start' starts one)")
        if body > 0 and self.tasks:
            index = self._index()
            self.offset = min(max(self.offset, index - body + 1), index)
            self.offset = max(min(self.offset, len(self.tasks) - body), 0)
            for row in range(body):
                n = self.offset + row
                if n >= len(self.tasks):
                    break
                attr = curses.A_BOLD if self.tasks[n].state in ("waiting", "stalled") else 0
                if n == index:
                    attr |= curses.A_REVERSE
                self._put(1 + row, lines[1 + n], attr, fill=n == index)
        status = self.message
        if not status:
            live = sum(1 for t in self.tasks if t.state not in FINAL_STATES)
            # Without a monitor the stored states go stale: 'r' looks at tmux.
            stale = "" if self.monitor else "no monitor runs ('r' looks)  "
            status = f"{live} live  {stale}{HELP}"
        self._put(height - 1, status, curses.A_BOLD if self.message else curses.A_DIM)
        scr.noutrefresh()
        curses.doupdate()
        self.last_draw = time.monotonic()

    def say(self, text: str) -> None:
        """Show ``text`` (its first line) in the status line now."""
        self.message = one_line(text.splitlines()[0] if text else "")
        self.draw()

    # -- the loop --------------------------------------------------------------------

    def main(self, scr: Any) -> int:
        import curses

        self.scr = scr
        with contextlib.suppress(curses.error):
            curses.curs_set(0)
        curses.set_escdelay(25)  # Escape quits at once
        scr.keypad(True)
        scr.nodelay(True)
        previous = signal.signal(signal.SIGWINCH, self._on_winch)
        try:
            self._start_watch()
            self.reload()
            self.draw()
            return self.loop()
        finally:
            signal.signal(signal.SIGWINCH, previous or signal.SIG_DFL)

    def loop(self) -> int:
        poll = select.poll()
        poll.register(0, select.POLLIN)
        poll.register(self.pipe_r, select.POLLIN)
        next_tick = time.monotonic() + TICK
        while True:
            clock = time.monotonic()
            timeout = next_tick - clock
            if self.logs_changed:
                timeout = min(timeout, self.last_draw + LOG_REDRAW - clock)
            for fd, events in poll.poll(max(timeout, 0.0) * 1000):
                if fd == 0 and events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    return 1  # the terminal is gone (the popup closed)
            with contextlib.suppress(OSError):
                while os.read(self.pipe_r, 4096):
                    pass
            dirty = False
            for key in self._keys():
                code = self.handle(key)
                if code is not None:
                    return code
                dirty = True
            if self.resized:
                self._resize()
                dirty = True
            clock = time.monotonic()
            if self.ctx.store.data_version() != self.version:
                self.reload()
                dirty = True
            if clock >= next_tick:
                next_tick = clock + TICK
                dirty = True
            if self.logs_changed and clock - self.last_draw >= LOG_REDRAW:
                self.logs_changed = False
                dirty = True
            if dirty:
                self.draw()

    def _keys(self) -> Iterator[int]:
        while True:
            key: int = self.scr.getch()
            if key == -1:
                return
            yield key

    def _resize(self) -> None:
        import curses

        self.resized = False
        try:
            size = os.get_terminal_size(1)
        except OSError:
            return
        with contextlib.suppress(curses.error):
            curses.resizeterm(size.lines, size.columns)
        self.scr.clear()

    # -- keys ------------------------------------------------------------------------

    def handle(self, key: int) -> int | None:
        """Act on one key; an exit code to quit with, or None to go on."""
        import curses

        if key == curses.KEY_RESIZE:
            self.scr.clear()
            return None
        self.message = ""
        if key in (ord("q"), ord("Q"), 27):
            return 0
        if key in (curses.KEY_UP, ord("k")):
            self._move(-1)
        elif key in (curses.KEY_DOWN, ord("j")):
            self._move(1)
        elif key in (curses.KEY_PPAGE,):
            self._move(-max(self.scr.getmaxyx()[0] - 2, 1))
        elif key in (curses.KEY_NPAGE,):
            self._move(max(self.scr.getmaxyx()[0] - 2, 1))
        elif key in (curses.KEY_HOME, ord("g")):
            self._move(-len(self.tasks))
        elif key in (curses.KEY_END, ord("G")):
            self._move(len(self.tasks))
        elif key in (curses.KEY_ENTER, 10, 13):
            return self._go()
        elif key in (ord("a"), ord("d")):
            self._answer("yes" if key == ord("a") else "no")
        elif key == ord("l"):
            self._log()
        elif key == ord("r"):
            self._refresh()
        return None

    def _move(self, step: int) -> None:
        if not self.tasks:
            return
        index = min(max(self._index() + step, 0), len(self.tasks) - 1)
        self.selected = self.tasks[index].id

    def _go(self) -> int | None:
        """Enter: show the task's window (switch the client inside tmux) and quit."""
        from tmux_codex.tasks.context import inside_server
        from tmux_codex.tasks.queries import attach_argv

        task = self._task()
        if task is None:
            self.say("no task selected")
            return None
        try:
            argv = attach_argv(self.ctx, str(task.id))
        except TmuxCodexError as exc:
            self.say(str(exc))
            return None
        if "switch-client" not in argv:
            if os.environ.get("TMUX") and not inside_server(task.tmux_socket):
                self.say(f"task {task.id} is on another tmux server: {' '.join(argv)}")
                return None
            self.exec_argv = argv  # attach once curses is gone
            return 0
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            self.say(f"tmux switch-client failed: {exc}")
            return None
        if done.returncode != 0:
            self.say(f"tmux switch-client failed: {done.stderr.strip() or done.returncode}")
            return None
        return 0

    def _answer(self, choice: str) -> None:
        from tmux_codex.tasks.act import answer

        task = self._task()
        if task is None:
            self.say("no task selected")
            return
        doing, done_verb = ("approving", "approved") if choice == "yes" else ("denying", "denied")
        self.say(f"{doing} task {task.id} ({task.name})…")
        try:
            # The prompt this table was drawn with, no other one that came up since.
            seen = task.prompt_text if task.state == "waiting" else None
            done = answer(self.ctx, str(task.id), choice, expect_prompt=seen)
        except TmuxCodexError as exc:
            self.message = one_line(str(exc))
        except Exception as exc:  # a popup never dies of a bug: it says so
            self.message = one_line(f"{doing} failed: {type(exc).__name__}: {exc}")
        else:
            self.message = f"task {done.id} ({done.name}) {done_verb}: now {done.label}"
        self.reload()

    def _refresh(self) -> None:
        """``r``: look at the live tasks in tmux now (for when no monitor keeps them current)."""
        from tmux_codex.tasks.refresh import refresh

        self.say("looking at the live tasks…")
        try:
            refresh(self.ctx, self.ctx.store.tasks(include_final=False))
        except TmuxCodexError as exc:
            self.message = one_line(str(exc))
        else:
            self.message = ""
        self.reload()

    def _log(self) -> None:
        """``l``: the task's readable log in ``less -R +G`` (or a pager of our own)."""
        import curses

        from tmux_codex.tasks.queries import write_log

        task = self._task()
        if task is None:
            self.say("no task selected")
            return
        self.say(f"reading the log of task {task.id}…")
        # Rendered straight into a file (0600) a piece at a time: a log may be huge.
        fd, path = tempfile.mkstemp(prefix="tmux-codex-log-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
                try:
                    write_log(task, fh.write)
                except Exception as exc:
                    self.say(f"cannot read the log of task {task.id}: {exc}")
                    return
                empty = fh.tell() == 0
                fh.write("\n")
            if empty:
                self.message = f"task {task.id} ({task.name}) has printed nothing yet"
                return
            less = shutil.which("less")
            if less is None:
                self.message = ""
                text = Path(path).read_text(encoding="utf-8", errors="replace")
                self._pager(text, f"task {task.id} ({task.name})")
                return
            curses.def_prog_mode()
            curses.endwin()
            self.message = ""
            try:
                subprocess.run([less, "-R", "+G", path], check=False)
            except OSError as exc:
                self.message = f"less failed: {exc}"
            finally:
                curses.reset_prog_mode()
                self.scr.clear()
                self.resized = True  # the terminal may have changed size meanwhile
        except OSError as exc:
            self.message = f"cannot write the log to a temporary file: {exc}"
        finally:
            Path(path).unlink(missing_ok=True)

    def _pager(self, text: str, title: str) -> None:
        """A small pager inside curses, for when ``less`` is missing; starts at the end."""
        import curses

        lines = text.splitlines() or [""]
        height, _ = self.scr.getmaxyx()
        top = max(len(lines) - (height - 1), 0)
        self.scr.nodelay(False)
        try:
            while True:
                height, _ = self.scr.getmaxyx()
                page = max(height - 1, 1)
                top = min(max(top, 0), max(len(lines) - page, 0))
                self.scr.erase()
                for row in range(min(page, len(lines) - top)):
                    self._put(row, lines[top + row].expandtabs())
                end = min(top + page, len(lines))
                self._put(
                    height - 1,
                    f"{title}: lines {top + 1}-{end} of {len(lines)}  ↑↓ PgUp PgDn g G  q back",
                    curses.A_REVERSE,
                )
                self.scr.refresh()
                key = self.scr.getch()
                if key in (ord("q"), ord("Q"), 27):
                    return
                if key in (curses.KEY_UP, ord("k")):
                    top -= 1
                elif key in (curses.KEY_DOWN, ord("j"), 10, 13):
                    top += 1
                elif key in (curses.KEY_PPAGE, ord("b")):
                    top -= page
                elif key in (curses.KEY_NPAGE, ord(" ")):
                    top += page
                elif key in (curses.KEY_HOME, ord("g")):
                    top = 0
                elif key in (curses.KEY_END, ord("G")):
                    top = len(lines)
                elif key == curses.KEY_RESIZE:
                    self.scr.clear()
        finally:
            self.scr.nodelay(True)
            self.scr.clear()


# -- as a program -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """``python -m tmux_codex.ui.top [--once] [--width N]``; the context comes from the environment.

    The same ``TMUX_CODEX_HOME``, ``TMUX_CODEX_SOCKET`` and ``TMUX_CODEX_CONFIG``
    as every ``tmux-codex`` command (``tmux_codex.tasks.context.open_context``).
    """
    import argparse

    from tmux_codex.tasks.context import open_context as context

    parser = argparse.ArgumentParser(
        prog="tmux-codex top", description="The fleet of tasks, live (for a tmux popup)."
    )
    parser.add_argument("--once", action="store_true", help="print the table once and exit")
    parser.add_argument("--width", type=int, help="with --once: the table's width")
    args = parser.parse_args(argv)
    try:
        with context() as ctx:
            code = run(ctx, once=args.once, width=args.width)
    except TmuxCodexError as exc:
        print(f"tmux-codex: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code)


if __name__ == "__main__":
    main()
