"""The live table's loop and keys: events wake it, keys act on the selected task.

It redraws on events, not on a busy loop: an inotify watch on the state
directory (the store's files), ``wake/`` and ``logs/`` wakes it, SQLite's
``data_version`` says whether the store changed, and a clock tick moves the
ages on. New log bytes alone redraw at most every :data:`LOG_REDRAW` seconds.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tmux_codex.core.errors import TmuxCodexError
from tmux_codex.ui.top.pager import page
from tmux_codex.ui.top.text import one_line
from tmux_codex.ui.top.view import TopView

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context

#: Redraws for new log bytes alone, at most this often (seconds).
LOG_REDRAW = 0.25


class Top:
    """The interactive table: its :class:`TopView`, the events that wake it, and its keys."""

    def __init__(self, ctx: Context, tick: float) -> None:
        self.ctx = ctx
        self.view = TopView(ctx)
        self.tick = tick  # the clock tick (seconds): ages move on, the store is checked
        self.exec_argv: list[str] = []  # a command to exec once curses is gone (attach)
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
        except Exception:  # no watch: the clock tick still sees the store change
            return
        self.watch = watch

    def close(self) -> None:
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        for fd in (self.pipe_r, self.pipe_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the loop --------------------------------------------------------------------

    def main(self, scr: Any) -> int:
        """``curses.wrapper``'s function: the table until a key quits; the exit code."""
        import curses

        self.view.scr = scr
        with contextlib.suppress(curses.error):
            curses.curs_set(0)
        curses.set_escdelay(25)  # Escape quits at once
        scr.keypad(True)
        scr.nodelay(True)
        previous = signal.signal(signal.SIGWINCH, self._on_winch)
        try:
            self._start_watch()
            self.view.reload()
            self.view.draw()
            return self.loop()
        finally:
            signal.signal(signal.SIGWINCH, previous or signal.SIG_DFL)

    def loop(self) -> int:
        view = self.view
        poll = select.poll()
        poll.register(0, select.POLLIN)
        poll.register(self.pipe_r, select.POLLIN)
        next_tick = time.monotonic() + self.tick
        while True:
            clock = time.monotonic()
            timeout = next_tick - clock
            if self.logs_changed:
                timeout = min(timeout, view.last_draw + LOG_REDRAW - clock)
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
            if view.stale():
                view.reload()
                dirty = True
            if clock >= next_tick:
                next_tick = clock + self.tick
                dirty = True
            if self.logs_changed and clock - view.last_draw >= LOG_REDRAW:
                self.logs_changed = False
                dirty = True
            if dirty:
                view.draw()

    def _keys(self) -> Iterator[int]:
        while True:
            key: int = self.view.scr.getch()
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
        self.view.scr.clear()

    # -- keys ------------------------------------------------------------------------

    def handle(self, key: int) -> int | None:
        """Act on one key; an exit code to quit with, or None to go on."""
        import curses

        view = self.view
        if key == curses.KEY_RESIZE:
            view.scr.clear()
            return None
        view.message = ""
        if key in (ord("q"), ord("Q"), 27):
            return 0
        if key in (curses.KEY_UP, ord("k")):
            view.move(-1)
        elif key in (curses.KEY_DOWN, ord("j")):
            view.move(1)
        elif key in (curses.KEY_PPAGE,):
            view.move(-max(view.scr.getmaxyx()[0] - 2, 1))
        elif key in (curses.KEY_NPAGE,):
            view.move(max(view.scr.getmaxyx()[0] - 2, 1))
        elif key in (curses.KEY_HOME, ord("g")):
            view.move(-len(view.tasks))
        elif key in (curses.KEY_END, ord("G")):
            view.move(len(view.tasks))
        elif key in (curses.KEY_ENTER, 10, 13):
            return self._go()
        elif key in (ord("a"), ord("d")):
            self._answer("yes" if key == ord("a") else "no")
        elif key == ord("l"):
            self._log()
        elif key == ord("r"):
            self._refresh()
        return None

    def _go(self) -> int | None:
        """Enter: show the task's window (switch the client inside tmux) and quit."""
        from tmux_codex.tasks.context import inside_server
        from tmux_codex.tasks.queries import attach_argv

        view = self.view
        task = view.task()
        if task is None:
            view.say("no task selected")
            return None
        try:
            argv = attach_argv(self.ctx, str(task.id))
        except TmuxCodexError as exc:
            view.say(str(exc))
            return None
        if "switch-client" not in argv:
            if os.environ.get("TMUX") and not inside_server(task.tmux_socket):
                view.say(f"task {task.id} is on another tmux server: {' '.join(argv)}")
                return None
            self.exec_argv = argv  # attach once curses is gone
            return 0
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            view.say(f"tmux switch-client failed: {exc}")
            return None
        if done.returncode != 0:
            view.say(f"tmux switch-client failed: {done.stderr.strip() or done.returncode}")
            return None
        return 0

    def _answer(self, choice: str) -> None:
        from tmux_codex.tasks.act import answer

        view = self.view
        task = view.task()
        if task is None:
            view.say("no task selected")
            return
        doing, done_verb = ("approving", "approved") if choice == "yes" else ("denying", "denied")
        view.say(f"{doing} task {task.id} ({task.name})…")
        try:
            # The prompt this table was drawn with, no other one that came up since.
            seen = task.prompt_text if task.state == "waiting" else None
            done = answer(self.ctx, str(task.id), choice, expect_prompt=seen)
        except TmuxCodexError as exc:
            view.message = one_line(str(exc))
        except Exception as exc:  # a popup never dies of a bug: it says so
            view.message = one_line(f"{doing} failed: {type(exc).__name__}: {exc}")
        else:
            view.message = f"task {done.id} ({done.name}) {done_verb}: now {done.label}"
        view.reload()

    def _refresh(self) -> None:
        """``r``: look at the live tasks in tmux now (for when no monitor keeps them current)."""
        from tmux_codex.tasks.refresh import refresh

        view = self.view
        view.say("looking at the live tasks…")
        try:
            refresh(self.ctx, self.ctx.store.tasks(include_final=False))
        except TmuxCodexError as exc:
            view.message = one_line(str(exc))
        else:
            view.message = ""
        view.reload()

    def _log(self) -> None:
        """``l``: the task's readable log in ``less -R +G`` (or a pager of our own)."""
        import curses

        from tmux_codex.tasks.queries import write_log

        view = self.view
        task = view.task()
        if task is None:
            view.say("no task selected")
            return
        view.say(f"reading the log of task {task.id}…")
        # Rendered straight into a file (0600) a piece at a time: a log may be huge.
        fd, path = tempfile.mkstemp(prefix="tmux-codex-log-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
                try:
                    write_log(task, fh.write)
                except Exception as exc:
                    view.say(f"cannot read the log of task {task.id}: {exc}")
                    return
                empty = fh.tell() == 0
                fh.write("\n")
            if empty:
                view.message = f"task {task.id} ({task.name}) has printed nothing yet"
                return
            less = shutil.which("less")
            if less is None:
                view.message = ""
                text = Path(path).read_text(encoding="utf-8", errors="replace")
                page(view, text, f"task {task.id} ({task.name})")
                return
            curses.def_prog_mode()
            curses.endwin()
            view.message = ""
            try:
                subprocess.run([less, "-R", "+G", path], check=False)
            except OSError as exc:
                view.message = f"less failed: {exc}"
            finally:
                curses.reset_prog_mode()
                view.scr.clear()
                self.resized = True  # the terminal may have changed size meanwhile
        except OSError as exc:
            view.message = f"cannot write the log to a temporary file: {exc}"
        finally:
            Path(path).unlink(missing_ok=True)
