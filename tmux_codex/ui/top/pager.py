"""A small pager inside curses, for a log when ``less`` is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tmux_codex.ui.top.view import TopView


def page(view: TopView, text: str, title: str) -> None:
    """Show ``text`` on ``view``'s screen from its end until ``q`` (or Escape)."""
    import curses

    scr = view.scr
    lines = text.splitlines() or [""]
    height, _ = scr.getmaxyx()
    top = max(len(lines) - (height - 1), 0)
    scr.nodelay(False)
    try:
        while True:
            height, _ = scr.getmaxyx()
            page = max(height - 1, 1)
            top = min(max(top, 0), max(len(lines) - page, 0))
            scr.erase()
            for row in range(min(page, len(lines) - top)):
                view.put(row, lines[top + row].expandtabs())
            end = min(top + page, len(lines))
            view.put(
                height - 1,
                f"{title}: lines {top + 1}-{end} of {len(lines)}  ↑↓ PgUp PgDn g G  q back",
                curses.A_REVERSE,
            )
            scr.refresh()
            key = scr.getch()
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
                scr.clear()
    finally:
        scr.nodelay(True)
        scr.clear()
