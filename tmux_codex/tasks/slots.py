"""Slots and dependencies: whether a task may run now (read inside the deciding transaction)."""

from __future__ import annotations

from tmux_codex.core.errors import NotPossible
from tmux_codex.core.models import LIVE_STATES, Task
from tmux_codex.core.store import Store
from tmux_codex.core.text import printable

#: States that hold a slot: a live task with a window.
RUNNING = LIVE_STATES - {"queued"}


def dependency_problem(dep: Task | None, ref: int) -> str | None:
    """Why a task that runs after ``dep`` can never start; None while it still may."""
    if dep is None:
        return f"task {ref}, which was removed"
    if dep.final and dep.state != "done":
        return f"task {dep.id} ({printable(dep.name, keep='')}), which ended {dep.state}"
    return None


def admission(store: Store, max_parallel: int, after: tuple[int, ...]) -> str | None:
    """Whether a task about to be added waits: ``after``, ``slot``, or None to start now.

    Call inside the transaction that adds the task, so two ``start`` calls never
    both take the last slot. A task it runs after that can no longer end
    ``done`` is ``NotPossible``.
    """
    tasks = {t.id: t for t in store.tasks(include_final=True)}
    waiting = False
    for ref in after:
        dep = tasks.get(ref)
        problem = dependency_problem(dep, ref)
        if problem:
            raise NotPossible(f"cannot run after {problem}: it could never start")
        assert dep is not None
        waiting = waiting or dep.state != "done"
    if waiting:
        return "after"
    if max_parallel <= 0:
        return None
    live = sum(t.state in RUNNING for t in tasks.values())
    ahead = any(t.state == "queued" and t.reason == "slot" for t in tasks.values())
    return "slot" if live >= max_parallel or ahead else None
