"""``batch FILE``: start every task of a batch file, in an order where ``after`` comes first.

The whole file is checked before anything starts (:func:`tmux_codex.fleet.batch.load`),
and so are the names it gives: a task of that name already in the store is bad
input, naming the entry. Tasks start (or wait ``queued``) one by one like
``start`` would start them.
"""

from __future__ import annotations

from tmux_codex.core.errors import BadInput
from tmux_codex.core.models import Task
from tmux_codex.core.text import printable
from tmux_codex.fleet.batch import load
from tmux_codex.fleet.start import start_task
from tmux_codex.tasks.context import Context
from tmux_codex.tasks.launch import StartRequest


def run_batch(ctx: Context, path: str) -> list[Task]:
    """Check ``path`` whole, then start its tasks; the tasks, in the file's order."""
    store = ctx.store
    entries = load(path, exists=lambda name: store.by_name(name) is not None)
    names = {e.name for e in entries}
    for entry in entries:
        if store.by_name(entry.name) is not None:
            raise BadInput(
                f"batch {path}: task {entry.index} (name {printable(entry.name)!r}): a task "
                "of that name exists already; rename it, or 'tmux-codex rm' the old one"
            )
    started: dict[str, Task] = {}
    for entry in entries:
        after: list[int] = []
        for name in entry.after:
            dep = started.get(name) if name in names else store.by_name(name)
            if dep is None:  # gone since the check
                raise BadInput(f"batch {path}: task {entry.index}: no task named {name!r}")
            after.append(dep.id)
        req = StartRequest(
            prompt=entry.prompt,
            workdir=str(entry.workdir),
            name=entry.name,
            mode=entry.mode,
            codex_args=entry.codex_args,
            after=tuple(after),
        )
        started[entry.name] = start_task(
            store,
            ctx.config,
            req,
            ctx.socket,
            worktree=entry.worktree,
            branch=entry.branch,
            base=entry.base,
        )
    return sorted(
        started.values(), key=lambda t: next(e.index for e in entries if e.name == t.name)
    )
