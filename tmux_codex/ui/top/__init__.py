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

The rooms: :mod:`.text` (columns, cutting), :mod:`.last` (the ``LAST``
column), :mod:`.table` (order and rows), :mod:`.view` (the selection and
drawing), :mod:`.live` (the loop and the keys), :mod:`.pager`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from tmux_codex.core.errors import NotPossible, TmuxCodexError
from tmux_codex.ui.top.last import LOG_TAIL, last_line
from tmux_codex.ui.top.table import MARKS, order_tasks, render_rows
from tmux_codex.ui.top.text import cells, fit, one_line

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context

__all__ = [
    "LOG_TAIL",
    "MARKS",
    "TICK",
    "cells",
    "fit",
    "last_line",
    "main",
    "one_line",
    "order_tasks",
    "render_rows",
    "run",
]

#: The clock tick (seconds): ages move on, and the store is checked even with no event.
#: Read when the live table starts (a test may set it first).
TICK = 1.0


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

    from tmux_codex.ui.top.live import Top

    with contextlib.suppress(locale.Error):
        locale.setlocale(locale.LC_ALL, "")
    top = Top(ctx, tick=TICK)
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
