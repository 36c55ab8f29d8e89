"""The live table's model and drawing: the tasks, the selection, the status line, curses."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tmux_codex.core.models import FINAL_STATES, Task
from tmux_codex.ui.top.table import order_tasks, render_rows
from tmux_codex.ui.top.text import fit, one_line, pad

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context

HELP = "↑↓ select  ⏎ go to  a approve  d deny  l log  r refresh  q quit"


class TopView:
    """What the live table shows (the store's tasks, in order; the selected one) and its drawing.

    The selection is a task id: it stays on its task as rows move, and when
    that task is gone it goes to the row where it was.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tasks: list[Task] = []
        self.selected: int | None = None  # the selected task's id
        self.offset = 0  # the first task row shown
        self.message = ""  # shown in the status line until the next key
        self.version = -1
        self.monitor = True
        self.scr: Any = None
        self.last_draw = 0.0

    # -- the store -----------------------------------------------------------------

    def reload(self) -> None:
        """Read the tasks again (and whether a monitor runs)."""
        from tmux_codex.core.lock import running

        store = self.ctx.store
        was = self.index()
        self.version = store.data_version()
        self.tasks = order_tasks(store.tasks())
        self.monitor = running(store.home) is not None
        ids = [t.id for t in self.tasks]
        if self.selected not in ids:  # gone (or the first load): the row where it was
            self.selected = ids[min(was, len(ids) - 1)] if ids else None

    def stale(self) -> bool:
        """Whether the store changed since the last :meth:`reload`."""
        return self.ctx.store.data_version() != self.version

    def index(self) -> int:
        """The selected task's row (0 with none)."""
        for i, task in enumerate(self.tasks):
            if task.id == self.selected:
                return i
        return 0

    def task(self) -> Task | None:
        """The selected task, if any."""
        return self.tasks[self.index()] if self.tasks and self.selected is not None else None

    def move(self, step: int) -> None:
        """Move the selection ``step`` rows (down when positive), within the table."""
        if not self.tasks:
            return
        index = min(max(self.index() + step, 0), len(self.tasks) - 1)
        self.selected = self.tasks[index].id

    # -- drawing ---------------------------------------------------------------------

    def put(self, y: int, text: str, attr: int = 0, fill: bool = False) -> None:
        """Write ``text`` on row ``y``, cut to the screen's width (padded with ``fill``)."""
        import curses

        height, width = self.scr.getmaxyx()
        if y < 0 or y >= height:
            return
        room = width - (1 if y == height - 1 else 0)  # the last cell of the screen cannot be set
        text = pad(text, room) if fill else fit(text, room)
        try:
            self.scr.addstr(y, 0, text, attr)
        except curses.error:
            pass
        except UnicodeEncodeError:
            with contextlib.suppress(curses.error):
                self.scr.addstr(y, 0, text.encode("ascii", "replace").decode(), attr)

    def draw(self) -> None:
        """The header, the rows that fit (the selected one in view), the status line."""
        import curses

        scr = self.scr
        scr.erase()
        height, width = scr.getmaxyx()
        lines = render_rows(self.tasks, width, datetime.now(timezone.utc))
        body = height - 2  # rows for tasks, between the header and the status line
        if height >= 2:
            self.put(0, lines[0], curses.A_BOLD)
        if body > 0 and not self.tasks:
            self.put(1, "no tasks ('tmux-codex start' starts one)")
        if body > 0 and self.tasks:
            index = self.index()
            self.offset = min(max(self.offset, index - body + 1), index)
            self.offset = max(min(self.offset, len(self.tasks) - body), 0)
            for row in range(body):
                n = self.offset + row
                if n >= len(self.tasks):
                    break
                attr = curses.A_BOLD if self.tasks[n].state in ("waiting", "stalled") else 0
                if n == index:
                    attr |= curses.A_REVERSE
                self.put(1 + row, lines[1 + n], attr, fill=n == index)
        status = self.message
        if not status:
            live = sum(1 for t in self.tasks if t.state not in FINAL_STATES)
            # Without a monitor the stored states go stale: 'r' looks at tmux.
            stale = "" if self.monitor else "no monitor runs ('r' looks)  "
            status = f"{live} live  {stale}{HELP}"
        self.put(height - 1, status, curses.A_BOLD if self.message else curses.A_DIM)
        scr.noutrefresh()
        curses.doupdate()
        self.last_draw = time.monotonic()

    def say(self, text: str) -> None:
        """Show ``text`` (its first line) in the status line now."""
        self.message = one_line(text.splitlines()[0] if text else "")
        self.draw()
