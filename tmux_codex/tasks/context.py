"""Finding a task: the context every command works with, and TASK references."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tmux_codex.core.config import Config
from tmux_codex.core.errors import BadInput, TaskNotFound
from tmux_codex.core.models import Task
from tmux_codex.core.store import Store

if TYPE_CHECKING:
    from tmux_codex.tmux.server import Tmux


@dataclass
class Context:
    """What every command needs: the store, the config and the tmux server."""

    store: Store
    config: Config
    socket: str

    @property
    def tmux(self) -> Tmux:
        from tmux_codex.tmux.server import Tmux  # not at import: reads may need no tmux

        return Tmux(self.socket)


#: SQLite's largest integer: no task id is larger.
MAX_ID = 2**63 - 1


def resolve(ctx: Context, ref: str | None) -> Task:
    """The task named by an id, a name or a window id; inside tmux, the current window's."""
    store = ctx.store
    if ref is None or ref == "":
        pane = os.environ.get("TMUX_PANE")
        if not pane or not inside_server(ctx.socket):
            raise TaskNotFound(
                "no TASK given and not in a pane of tmux-codex's tmux server: name a task"
            )
        try:
            window, task_id = ctx.tmux.window_of_pane(pane)
        except Exception:  # the pane may be on another server
            window, task_id = "", ""
        task = store.get(int(task_id)) if task_id.isdigit() else None
        if task is None and window:
            task = store.by_window(window)
        if task is None:
            raise TaskNotFound("the current tmux window holds no tmux-codex task; name one")
        return task
    task = None
    if ref.isascii() and ref.isdigit():
        if int(ref) > MAX_ID:
            raise BadInput(f"no task {ref!r}: task ids are at most {MAX_ID}")
        task = store.get(int(ref))
    if task is None and ref.startswith("@"):
        task = store.by_window(ref)
    if task is None:
        task = store.by_name(ref)
    if task is None:
        raise TaskNotFound(f"no task {ref!r}: see 'tmux-codex list --all'")
    return task


def inside_server(socket: str) -> bool:
    """Whether this process runs inside a pane of the tmux server ``socket``."""
    current = os.environ.get("TMUX", "")
    if not current:
        return False
    return os.path.basename(current.split(",")[0]) == (socket or "default")


@contextmanager
def open_context() -> Iterator[Context]:
    """The context the environment names (``TMUX_CODEX_HOME``, ``_SOCKET``, ``_CONFIG``)."""
    from tmux_codex.core import config as config_mod
    from tmux_codex.core.paths import config_path, state_home

    config = config_mod.load(config_path())
    socket = os.environ.get("TMUX_CODEX_SOCKET", config.tmux.socket)
    store = Store(state_home())
    try:
        yield Context(store=store, config=config, socket=socket)
    finally:
        store.close()
