"""A task's log for a reader: read errors said plainly, and the log followed as it grows."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tmux_codex.core.errors import NotPossible
from tmux_codex.core.models import Task
from tmux_codex.core.text import printable

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context

#: ``follow_log``: how long to wait for the last bytes of a run that has no end mark.
FOLLOW_END_GRACE = 2.0


@contextmanager
def log_errors(task: Task) -> Iterator[None]:
    """Turn an ``OSError`` while reading ``task``'s log into one that says which log and why."""
    try:
        yield
    except OSError as exc:
        raise NotPossible(
            f"cannot read the log of task {task.id} ({printable(task.name, keep='')}): "
            f"{exc.strerror or exc} ({task.log_path})"
        ) from None


def follow_log(ctx: Context, task: Task) -> Iterator[bytes]:
    """The raw bytes ``task`` adds to its log from now on, as they come, until its run is over.

    The shim records the end as Codex exits, while tmux's pipe may still be
    bringing the last bytes: they are all in once the run's end mark is. A
    run without one (its pane went away) gets :data:`FOLLOW_END_GRACE`.
    """
    from tmux_codex.codex.logtext import run_ended

    path = task.log_path
    offset = os.path.getsize(path) if os.path.exists(path) else 0
    last_read = False  # the run's end mark is in: one more read, then stop
    give_up: float | None = None
    while True:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if size > offset:
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read(size - offset)
            offset = size
            yield chunk
            continue
        if last_read:
            return
        current = ctx.store.get(task.id)
        if current is None:
            return
        if not current.final:
            give_up = None
            time.sleep(0.2)
            continue
        last_read = run_ended(path, current.attempt)
        now = time.monotonic()
        if give_up is None:
            give_up = now + FOLLOW_END_GRACE
        elif now >= give_up:
            last_read = True
        time.sleep(0 if last_read else 0.05)
