"""Starting a task of a fleet: in its own git worktree, after other tasks, or queued.

``start`` without ``--worktree`` is :func:`tmux_codex.tasks.launch.start`;
with it, a new worktree on a new branch is made first and the task runs in
it, Codex told to trust it for that task. Whatever fails on the way leaves
nothing behind: the worktree and branch made for the task go again.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import replace
from pathlib import Path

from tmux_codex.core.config import Config
from tmux_codex.core.errors import BadInput, TaskNotFound
from tmux_codex.core.models import Task
from tmux_codex.core.paths import ensure_dir, worktrees_dir
from tmux_codex.core.store import Store
from tmux_codex.fleet import worktrees
from tmux_codex.tasks.context import Context, resolve
from tmux_codex.tasks.launch import StartRequest, default_name, start, validate


def after_ids(ctx: Context, refs: str | None) -> tuple[int, ...]:
    """The ids of ``--after TASK[,TASK...]``; a task that does not exist is bad input."""
    if refs is None:
        return ()
    ids: list[int] = []
    for ref in refs.split(","):
        if not ref.strip():
            raise BadInput(f"--after {refs!r}: an empty task name")
        try:
            found = resolve(ctx, ref.strip())
        except TaskNotFound as exc:
            raise BadInput(f"--after: {exc}") from None
        if found.id not in ids:
            ids.append(found.id)
    return tuple(ids)


def worktree_home(store: Store, config: Config) -> Path:
    """The folder that holds the worktrees of tasks (``[fleet] worktree_dir``)."""
    if config.fleet.worktree_dir:
        return Path(config.fleet.worktree_dir).expanduser().absolute()
    return worktrees_dir(store.home)


def _free_branch(repo: Path, prefix: str, name: str, given: bool) -> str:
    """``<prefix><name>``; for a name tmux-codex chose, the first free ``-N`` variant."""
    from tmux_codex.core import git

    branch = worktrees.default_branch(prefix, name)
    if given or git.branch_commit(repo, branch) is None:
        return branch
    for n in range(2, 1000):
        candidate = f"{branch}-{n}"
        if git.branch_commit(repo, candidate) is None:
            return candidate
    return branch  # create() says it exists


def start_task(
    store: Store,
    config: Config,
    req: StartRequest,
    socket: str,
    *,
    worktree: bool = False,
    branch: str | None = None,
    base: str | None = None,
) -> Task:
    """Start (or queue) a task; with ``worktree``, in a new worktree of ``req.workdir``'s repo."""
    if not worktree:
        if branch is not None or base is not None:
            raise BadInput("--branch and --base go with --worktree")
        return start(store, config, req, socket)
    validate(req, config)  # the prompt, name and workdir, before anything is made
    if req.name is not None and store.by_name(req.name) is not None:
        raise BadInput(f"a task named {req.name!r} exists; choose another --name")
    from tmux_codex.core import git

    repo = git.toplevel(req.workdir)
    name = req.name or default_name(req.prompt)
    chosen = (
        worktrees.check_branch(branch)
        if branch is not None
        else _free_branch(repo, config.fleet.branch_prefix, name, req.name is not None)
    )
    folder = ensure_dir(worktree_home(store, config))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "task"
    path = folder / f"{slug}-{os.urandom(3).hex()}"
    made = worktrees.create(repo, path, chosen, base)
    try:
        return start(
            store,
            config,
            replace(req, workdir=str(made.path), worktree=made.to_json(), trust=True),
            socket,
        )
    except BaseException:
        with contextlib.suppress(Exception):  # brand new: it holds nothing of anyone's
            worktrees.remove(made, force=True, purge=True)
        raise
