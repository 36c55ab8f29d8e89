"""The queue: tasks recorded ``queued`` wait for a slot or for the tasks they run after.

It lives in the store, so it survives restarts of the monitor, of tmux and of
tmux-codex. ``start`` decides in its own transaction whether a new task runs
now or waits (:func:`admission`); the monitor, the one process that starts
queued tasks, calls :func:`promote` whenever a task may have freed a slot or
ended a dependency, and :func:`recover` when it starts.

Starting a queued task is two steps: a transaction claims it (``queued`` →
``starting``, an event by ``queue``), then its window opens. A monitor killed
between the two leaves a claimed task without a window; :func:`recover` finds
its window if tmux made it (windows carry their task's id), or opens it: each
queued task runs once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from tmux_codex.core.models import Task
from tmux_codex.core.store import Store
from tmux_codex.core.wake import wake
from tmux_codex.tasks.launch import git_head, open_window
from tmux_codex.tasks.slots import RUNNING, dependency_problem
from tmux_codex.tmux.server import Tmux

#: The detail of the event that claims a queued task (what :func:`recover` looks for).
CLAIMED = "started from the queue"
#: The one who moves tasks out of the queue, in events.
BY = "queue"


@dataclass
class Claim:
    """What one pass over the queue decided."""

    started: list[Task]
    failed: list[int]


def claim(store: Store, max_parallel: int) -> Claim:
    """In one transaction: fail the queued tasks whose dependency can no longer end
    ``done``, and claim (→ ``starting``) the oldest ready ones while slots are free."""
    result = Claim([], [])
    with store.transaction():
        tasks = store.tasks(include_final=True)
        by_id = {t.id: t for t in tasks}
        live = sum(t.state in RUNNING for t in tasks)
        since = store.queued_since()
        # Oldest first: by when each entered the queue (a resumed task, when it was resumed).
        for task in sorted(
            (t for t in tasks if t.state == "queued"), key=lambda t: (since.get(t.id, 0), t.id)
        ):
            # Waiting for a slot: its dependencies were all done (one removed since is fine).
            deps = [] if task.reason == "slot" else [(ref, by_id.get(ref)) for ref in task.after]
            problem = next((p for ref, dep in deps if (p := dependency_problem(dep, ref))), None)
            if problem:
                why = f"not started: it runs after {problem}"
                store.set_state(
                    task.id,
                    "failed",
                    detail=why,
                    by=BY,
                    error=why,
                    only_from=frozenset({"queued"}),
                )
                result.failed.append(task.id)
                continue
            if any(dep is not None and dep.state != "done" for _, dep in deps):
                continue
            if max_parallel > 0 and live >= max_parallel:
                if task.reason != "slot":  # its dependencies are done: now it waits for a slot
                    store.set_state(
                        task.id, "queued", reason="slot", by=BY, only_from=frozenset({"queued"})
                    )
                continue
            if store.set_state(
                task.id, "starting", detail=CLAIMED, by=BY, only_from=frozenset({"queued"})
            ):
                live += 1
                claimed = store.get(task.id)
                assert claimed is not None
                result.started.append(claimed)
    return result


def launch(store: Store, task: Task) -> Task | None:
    """Open the window of a claimed task; on failure it is ``failed``, saying why.

    A task in a plain workdir begins now: its start commit is the workdir's
    ``HEAD`` now, not when it was queued (a worktree task's is its base's; a
    resumed task's, that of its first run).
    """
    try:
        if not task.worktree and task.attempt == 1:
            store.update(task.id, start_commit=git_head(task.workdir))
        return open_window(store, task, environment=False)
    except Exception as exc:
        with contextlib.suppress(Exception):
            store.set_state(
                task.id,
                "failed",
                detail=f"could not start from the queue: {exc}",
                by=BY,
                error=str(exc),
                only_from=frozenset({"starting"}),
            )
        return None
    finally:
        wake(store.home, task.id)


def promote(store: Store, max_parallel: int) -> list[Task]:
    """Start every queued task whose turn has come; the tasks started."""
    decided = claim(store, max_parallel)
    for task_id in decided.failed:
        wake(store.home, task_id)
    return [t for t in (launch(store, task) for task in decided.started) if t is not None]


def claimed_without_window(store: Store) -> list[Task]:
    """Live tasks the queue claimed whose window was never recorded (their claimer died).

    Only the latest start counts: a task the queue started once and that was
    resumed by hand since is not the queue's to start.
    """
    found = []
    for task in store.tasks(include_final=False):
        if task.state == "queued" or task.window_id:
            continue
        starts = [e for e in store.events(task.id) if e.to_state == "starting"]
        if starts and starts[-1].by == BY and starts[-1].detail == CLAIMED:
            found.append(task)
    return found


def recover(store: Store) -> list[Task]:
    """Finish starting the tasks a dead monitor claimed: adopt the window tmux made, or
    open it; one that got on without a window on record is ``lost``."""
    started = []
    for task in claimed_without_window(store):
        pane = None
        with contextlib.suppress(Exception):  # no tmux server: it is opened anew
            pane = next(  # a dead pane is an earlier run's (a resumed task's old window)
                (
                    p
                    for p in Tmux(task.tmux_socket).panes().values()
                    if p.task == str(task.id) and not p.dead
                ),
                None,
            )
        if pane is not None:
            store.update(task.id, window_id=pane.window_id, pane_id=pane.pane_id)
            wake(store.home, task.id)
            adopted = store.get(task.id)
            if adopted is not None:
                started.append(adopted)
        elif task.state == "starting" and task.shim_pid is None:
            opened = launch(store, task)
            if opened is not None:
                started.append(opened)
        else:
            store.set_state(
                task.id,
                "lost",
                by=BY,
                detail="started from the queue, but its window was never recorded",
                only_from=frozenset({task.state}),
            )
    return started
