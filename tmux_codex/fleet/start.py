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
from tmux_codex.core.paths import UnsafeDirectory, ensure_dir, worktrees_dir
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
    """The folder that holds the worktrees of tasks (``[fleet] worktree_dir``), made private."""
    setting = config.fleet.worktree_dir
    try:
        folder = Path(setting).expanduser() if setting else worktrees_dir(store.home)
    except RuntimeError as exc:  # ~user that does not exist
        raise BadInput(f"[fleet] worktree_dir {setting!r}: {exc}") from None
    if not folder.is_absolute():
        raise BadInput(f"[fleet] worktree_dir {setting!r} must be an absolute path (or ~/…)")
    try:
        return ensure_dir(folder)
    except (OSError, UnsafeDirectory) as exc:
        raise BadInput(
            f"[fleet] worktree_dir {str(folder)!r} cannot hold worktrees: {exc}"
        ) from None


def _branches(repo: Path, prefix: str, name: str, given: bool) -> list[str]:
    """The branches to try, in turn: ``<prefix><name>``, then for a name tmux-codex
    chose ``-2``, ``-3``, … (another start may take one between the look and the try)."""
    branch = worktrees.default_branch(prefix, name)
    if given:
        return [branch]
    return [branch, *(f"{branch}-{n}" for n in range(2, 100))]


def _create(
    repo: Path, folder: Path, name: str, branches: list[str], base: str | None
) -> worktrees.Worktree:
    """A new worktree on the first of ``branches`` that is free."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "task"
    for i, branch in enumerate(branches):
        if i + 1 < len(branches) and worktrees.branch_exists(repo, branch):
            continue
        path = folder / f"{slug}-{os.urandom(3).hex()}"
        try:
            return worktrees.create(repo, path, branch, base)
        except BadInput as exc:
            if i + 1 == len(branches) or "already exists" not in str(exc):
                raise
    raise BadInput(f"no free branch for task {name!r} in {repo}")  # not reached


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
    # The same place inside the worktree as -C names inside the repository.
    inside = Path(req.workdir).expanduser().resolve().relative_to(repo)
    name = req.name or default_name(req.prompt)
    branches = (
        [worktrees.check_branch(branch)]
        if branch is not None
        else _branches(repo, config.fleet.branch_prefix, name, req.name is not None)
    )
    made = _create(repo, worktree_home(store, config), name, branches, base)
    # A TUI asks to trust a new folder; the trust policy answers for the task's own
    # workdir: say it at once, for this task alone. exec never asks (and a trusted
    # folder's own .codex/config.toml would be loaded: not for a folder never trusted).
    mode = req.mode or config.codex.mode
    trust = config.policy.trust_workdir and mode == "tui"
    try:
        return start(
            store,
            config,
            replace(req, workdir=str(made.path / inside), worktree=made.to_json(), trust=trust),
            socket,
        )
    except BaseException:
        with contextlib.suppress(Exception):  # brand new: it holds nothing of anyone's
            worktrees.remove(made, force=True, purge=True)
        raise
