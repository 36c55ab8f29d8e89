"""How commands print: JSON, the task table, long text in pieces, what was done to a task."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import click

from tmux_codex.core.models import Task, age
from tmux_codex.core.text import printable, tokens_text


def print_json(data: object) -> None:
    """``data`` as one line of JSON (non-ASCII kept, control characters escaped)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=None))


def write_bytes(data: bytes) -> None:
    """Raw bytes to stdout, now."""
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def task_table(tasks: list[Task]) -> str:
    """``list``'s table: ID, NAME, STATE, MODE, AGE, [TOKENS,] [BRANCH,] WORKDIR.

    TOKENS when some task's count is known, BRANCH when some task has a
    worktree; a queued task's WORKDIR says what it waits for. The last column
    is not padded.
    """
    tokens = any(t.tokens for t in tasks)
    branches = any(t.worktree for t in tasks)
    head = ["ID", "NAME", "STATE", "MODE", "AGE"]
    head += ["TOKENS"] * tokens + ["BRANCH"] * branches + ["WORKDIR"]
    rows = [tuple(head)]
    for t in tasks:
        name, workdir = printable(t.name, keep=""), printable(t.workdir, keep="")
        if t.state == "queued" and t.after:
            workdir += "  (after " + ", ".join(str(i) for i in t.after) + ")"
        row = [str(t.id), name, t.label, t.mode, age(t.created_at)]
        row += [tokens_text(t.tokens)] * tokens
        row += [printable((t.worktree or {}).get("branch", "-"), keep="")] * branches
        rows.append((*row, workdir))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]
        for row in rows
    )


def task_fields(task: Task) -> list[str]:
    """``show``'s lines: ``key: value`` for each field that has one, continued lines indented."""
    lines = []
    for key, value in task.to_dict().items():
        if value is None or value == []:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if value is not None:
            text = printable(str(value)).replace("\n", "\n" + " " * 19)
            lines.append(f"{key + ':':18} {text}")
    return lines


def echo_stream(produce: Callable[[Callable[[str], object]], None]) -> None:
    """Echo text that ``produce`` writes in pieces, a few at a time, then a newline."""
    pending: list[str] = []
    size = [0]

    def write(piece: str) -> None:
        pending.append(piece)
        size[0] += len(piece)
        if size[0] >= 65536:
            click.echo("".join(pending), nl=False)
            pending.clear()
            size[0] = 0

    produce(write)
    click.echo("".join(pending))


def task_said(task: Task, what: str) -> str:
    """``task 3 (name): what``, with the name and ``what`` safe to print."""
    return f"task {task.id} ({printable(task.name, keep='')}): {printable(what, keep='')}"
