"""What every command group shares: the context, and shell completion of TASK and states."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import click

from tmux_codex.core.models import STATES

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context


def context() -> AbstractContextManager[Context]:
    """The store, config and tmux socket every command works with."""
    from tmux_codex.tasks.context import open_context

    return open_context()


def complete_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Task ids and names from the store, for shell completion (no tmux calls)."""
    from click.shell_completion import CompletionItem

    from tmux_codex.tasks.lookup import known_tasks

    items = []
    for task in reversed(known_tasks()):
        label = f"{task.state}: {task.name}"
        for value in (str(task.id), task.name):
            if value.startswith(incomplete):
                items.append(CompletionItem(value, help=label))
    return items


def complete_states(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """State names, after those already given (``waiting,id`` → ``waiting,idle``)."""
    from click.shell_completion import CompletionItem

    done, _, last = incomplete.rpartition(",")
    given = set(done.split(",")) if done else set()
    head = done + "," if done else ""
    return [
        CompletionItem(head + state)
        for state in STATES
        if state.startswith(last) and state not in given
    ]
