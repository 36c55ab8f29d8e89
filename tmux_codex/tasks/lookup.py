"""Small looks at tasks for the faces (the CLI, key bindings, scripts).

The tasks a shell completes, what a command last did to a task, a wait that
fails with an error, and the tmux command that shows a task's window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tmux_codex.core.errors import BadInput, NotPossible
from tmux_codex.core.models import Task

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context


def known_tasks() -> list[Task]:
    """Every task of the state directory, from the store alone: no tmux calls, no errors.

    For shell completion, which must never print an error into the shell:
    no store, or one that cannot be read, is no tasks.
    """
    from tmux_codex.core.paths import db_path, state_home

    if not db_path(state_home()).exists():
        return []
    try:
        from tmux_codex.core.store import Store

        with Store(state_home()) as store:
            return store.tasks()
    except Exception:
        return []


def last_done(ctx: Context, task: Task) -> str:
    """What was last done to ``task``: the first line of its last event (``sent 'y'``, …)."""
    done = ctx.store.events(task.id)
    return (done[-1].detail or "").split("\n")[0] if done else "done"


def wait_for(ctx: Context, ref: str | None, states: frozenset[str], timeout: float) -> Task:
    """Wait until the task is in one of ``states``; ``NotPossible`` if it ends elsewhere
    or ``timeout`` seconds pass first."""
    from tmux_codex.tasks.queries import wait

    found, reached = wait(ctx, ref, states, timeout)
    if not reached:
        raise NotPossible(
            f"task {found.id} ({found.name}) is {found.label}, not "
            f"{' or '.join(sorted(states))}" + ("" if found.final else f", after {timeout:g}s")
        )
    return found


def window_argv(
    ctx: Context, ref: str | None, next_: bool = False, client: str | None = None
) -> tuple[list[str], str | None]:
    """The tmux command that shows a task's window, and the task it shows (as given or picked).

    ``next_``: the next task that needs its user (waits, stalled or failed),
    after the one in the window ``client`` shows. ``client``: the tmux
    client to switch (key bindings pass ``#{client_name}``), wherever this
    runs. Otherwise a ``switch-client`` inside the task's tmux server, an
    ``attach-session`` outside it.
    """
    from tmux_codex.tasks.queries import attach_argv, next_needing

    if next_:
        if ref is not None:
            raise BadInput("give a TASK or --next, not both")
        here = None
        if client:
            found = ctx.tmux.run("display-message", "-p", "-c", client, "#{window_id}", check=False)
            here = found[0] if found else None
        target = next_needing(ctx, here)
        if target is None:
            raise NotPossible("no task needs you: none waits, stalled or failed")
        ref = str(target.id)
    argv = attach_argv(ctx, ref)
    if client:  # from a key binding: switch that client, wherever this runs
        base, window = argv[:-3], argv[-1]  # [*base, verb, "-t", window]
        argv = [*base, "switch-client", "-c", client, "-t", window]
    return argv, ref
