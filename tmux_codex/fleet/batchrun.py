"""``batch FILE``: start every task of a batch file, in an order where ``after`` comes first.

The whole file is checked before anything starts (:func:`tmux_codex.fleet.batch.load`),
and so are the names it gives: a task of that name already in the store is bad
input, naming the entry. Tasks start (or wait ``queued``) one by one like
``start`` would start them.
"""

from __future__ import annotations

from tmux_codex.core import git
from tmux_codex.core.errors import BadInput, TmuxCodexError
from tmux_codex.core.models import Task
from tmux_codex.core.text import printable
from tmux_codex.fleet import worktrees
from tmux_codex.fleet.batch import BatchTask, load
from tmux_codex.fleet.start import start_task
from tmux_codex.tasks.context import Context
from tmux_codex.tasks.launch import StartRequest, validate
from tmux_codex.tasks.slots import dependency_problem


def run_batch(ctx: Context, path: str) -> list[Task]:
    """Check ``path`` whole, then start its tasks; the tasks, in the file's order."""
    store = ctx.store
    entries = load(
        path,
        exists=lambda name: store.by_name(name) is not None,
        branch_prefix=ctx.config.fleet.branch_prefix,
    )
    names = {e.name for e in entries}
    for entry in entries:
        if store.by_name(entry.name) is not None:
            raise BadInput(
                f"batch {path}: task {entry.index} (name {printable(entry.name)!r}): a task "
                "of that name exists already; rename it, or 'tmux-codex rm' the old one"
            )
    _check_against_now(ctx, path, entries)
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
        try:
            started[entry.name] = start_task(
                store,
                ctx.config,
                req,
                ctx.socket,
                worktree=entry.worktree,
                branch=entry.branch,
                base=entry.base,
            )
        except TmuxCodexError as exc:
            done = ", ".join(str(t.id) for t in started.values()) or "none"
            exc.args = (
                f"batch {path}: task {entry.index} (name {printable(entry.name)!r}): {exc} "
                f"(started before it: {done})",
            )
            raise
    return sorted(
        started.values(), key=lambda t: next(e.index for e in entries if e.name == t.name)
    )


def _check_against_now(ctx: Context, path: str, entries: list[BatchTask]) -> None:
    """What the file alone cannot say: a branch that exists, a dependency that ended."""
    store = ctx.store
    for entry in entries:
        label = f"batch {path}: task {entry.index} (name {printable(entry.name)!r})"
        validate(StartRequest(entry.prompt, str(entry.workdir), entry.name, entry.mode), ctx.config)
        for name in entry.after:
            existing = store.by_name(name)
            problem = dependency_problem(existing, 0) if existing is not None else None
            if problem:
                raise BadInput(f"{label}: runs after {problem}: it could never start")
        if entry.worktree:
            repo = git.toplevel(entry.workdir)
            branch = entry.branch or worktrees.default_branch(
                ctx.config.fleet.branch_prefix, entry.name
            )
            if worktrees.branch_exists(repo, branch):
                raise BadInput(f"{label}: branch {branch!r} already exists in {repo}")
