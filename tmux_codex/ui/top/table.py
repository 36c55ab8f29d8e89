"""The table top shows: its order (live tasks first) and its rows at a given width."""

from __future__ import annotations

from datetime import datetime

from tmux_codex.core.models import FINAL_STATES, Task, age
from tmux_codex.core.text import tokens_text
from tmux_codex.monitor.notify import WINDOW_MARKS
from tmux_codex.ui.top.last import last_line
from tmux_codex.ui.top.text import cells, fit, one_line, pad

#: A mark before each state: the same as the window marks the monitor sets.
MARKS = WINDOW_MARKS


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
    started), TOKENS (when some task's count is known and there is room) and
    LAST (see :func:`last_line`). No line is wider than ``width`` columns;
    there are no escape or control characters, and no trailing spaces. Reads
    only the tails of live tasks' logs.
    """
    ordered = order_tasks(tasks)
    width = max(width, 0)
    id_w = max([2, *(len(str(t.id)) for t in ordered)])
    name_w = min(max([4, *(cells(one_line(t.name)) for t in ordered)]), 16)
    state_w = min(max([5, *(len(t.label) for t in ordered)]), 16)
    age_w = 4
    #: TOKENS, when there is room for it beside a LAST of some width.
    tok_w = 6 if any(t.tokens for t in ordered) else 0

    def fixed() -> int:
        return 2 + id_w + 2 + name_w + 2 + state_w + 2 + age_w + 2 + (tok_w + 2 if tok_w else 0)

    if tok_w and width - fixed() < 24:
        tok_w = 0
    # Narrow: names, then states give way so LAST keeps some room.
    while width - fixed() < 16 and name_w > 8:
        name_w -= 1
    while width - fixed() < 16 and state_w > 7:
        state_w -= 1
    last_w = width - fixed()

    def row(mark: str, ident: str, name: str, state: str, when: str, tokens: str, last: str) -> str:
        used = f"{pad(tokens, tok_w, right=True)}  " if tok_w else ""
        line = (
            f"{pad(mark, 1)} {pad(ident, id_w, right=True)}  {pad(name, name_w)}  "
            f"{pad(state, state_w)}  {pad(when, age_w, right=True)}  {used}{fit(last, last_w)}"
        )
        return fit(line.rstrip(), width)

    lines = [row("", "ID", "NAME", "STATE", "AGE", "TOKENS", "LAST")]
    for task in ordered:
        lines.append(
            row(
                MARKS.get(task.state, ""),
                str(task.id),
                one_line(task.name),
                task.label,
                age(task.created_at, now),
                tokens_text(task.tokens),
                last_line(task) if last_w > 0 else "",
            )
        )
    return lines
