"""A worktree task's work: merge it into its base, remove the task without losing it.

``merge`` and ``rm`` of the CLI. Work is never lost silently: removing a task
whose worktree holds uncommitted changes or commits its base lacks is
refused, saying what it holds, unless forced.
"""

from __future__ import annotations

from tmux_codex.core.errors import NotPossible
from tmux_codex.core.models import Task
from tmux_codex.core.text import printable
from tmux_codex.core.wake import wake
from tmux_codex.fleet import merge as merging
from tmux_codex.fleet.worktrees import Worktree, remove, state
from tmux_codex.tasks.act import remove as remove_record
from tmux_codex.tasks.context import Context, resolve
from tmux_codex.tasks.refresh import refresh

#: A task in these states may still change its worktree: not merged.
BUSY = frozenset({"queued", "starting", "working", "waiting", "stalled"})


def worktree_of(task: Task) -> Worktree | None:
    """The task's worktree, if it runs in one tmux-codex made."""
    return Worktree.from_json(task.worktree) if task.worktree else None


def merge_task(
    ctx: Context, ref: str | None, squash: bool = False, message: str | None = None
) -> tuple[Task, merging.MergeResult]:
    """Merge a worktree task's branch (and its uncommitted work) into its base."""
    task = refresh(ctx, [resolve(ctx, ref)])[0]
    wt = worktree_of(task)
    label = f"task {task.id} ({printable(task.name, keep='')})"
    if wt is None:
        raise NotPossible(f"{label} has no worktree of its own: nothing to merge")
    if task.state in BUSY:
        raise NotPossible(f"{label} is {task.label}: merge it once it is idle or has ended")
    result = merging.merge(wt, squash=squash, message=message, task=f"tmux-codex {label}")
    short = result.new_base[:12]
    detail = (
        f"merged {wt.branch} into {result.base} ({result.kind}, now {short})"
        if result.kind != "up-to-date"
        else f"{result.base} already holds {wt.branch}: nothing to merge"
    )
    ctx.store.audit(task.id, detail)
    wake(ctx.store.home, task.id)
    return task, result


def remove_task(ctx: Context, ref: str | None, purge: bool = False, force: bool = False) -> Task:
    """``rm``: the task's record (and with ``purge`` its log); its worktree with it.

    A worktree holding uncommitted or unmerged work is refused unless
    ``force``; ``purge`` also deletes its branch (merged, or forced). The
    worktree goes first: when git cannot remove it, the task stays on record.
    """
    task = refresh(ctx, [resolve(ctx, ref)])[0]
    label = f"task {task.id} ({printable(task.name, keep='')})"
    if not task.final and task.state != "queued":
        raise NotPossible(f"{label} is {task.state}: 'tmux-codex kill {task.id}' first")
    wt = worktree_of(task)
    if wt is None:
        return remove_record(ctx, str(task.id), purge=purge)
    if not force:
        held = state(wt)
        if held.holds_work:
            raise NotPossible(
                f"{label}'s worktree {wt.path} (branch {wt.branch}) holds "
                f"{held.describe()}: 'tmux-codex merge {task.id}' first, or rm --force "
                "to discard it"
            )
    if task.state == "queued" and not ctx.store.set_state(
        task.id, "killed", by="user", detail="taken out of the queue by rm",
        only_from=frozenset({"queued"}),
    ):  # fmt: skip
        raise NotPossible(f"{label} started meanwhile: kill it first")
    remove(wt, force=force, purge=purge)
    return remove_record(ctx, str(task.id), purge=purge)
