"""A task's own ``git worktree``: create it, know what it holds, remove it without losing work.

Parallel tasks on one repository each get a worktree on a new branch, so no
two share a working tree. Work is never lost silently: :func:`remove` refuses
a worktree holding uncommitted changes or commits its base lacks unless
forced, and says what it would discard (see :mod:`tmux_codex.fleet.held`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tmux_codex.core import git
from tmux_codex.core.errors import BadInput, NotPossible
from tmux_codex.fleet.held import (
    State,
    Status,
    detached_commits,
    in_progress,
    nested_repositories,
    status,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Worktree:
    """A worktree tmux-codex made: what the ``worktree`` JSON of a task says."""

    repo: Path  #: the top of the repository's working tree it was made from, absolute
    path: Path  #: the worktree, absolute
    branch: str  #: its own branch (short name, e.g. ``codex/fix-tests``)
    base: str  #: the ref it was made from as given (default the checked-out branch)
    base_commit: str  #: the commit ``base`` named when the worktree was made

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Worktree:
        return cls(
            repo=Path(data["repo"]),
            path=Path(data["path"]),
            branch=str(data["branch"]),
            base=str(data["base"]),
            base_commit=str(data["base_commit"]),
        )


# -- names -----------------------------------------------------------------------------


def check_branch(name: str) -> str:
    """``name`` if it can be a new branch's name; BadInput saying why not otherwise."""
    if not name or not name.strip():
        raise BadInput("a branch name cannot be empty")
    if _CONTROL.search(name):
        raise BadInput(f"invalid branch name {name!r}: it holds a control character")
    if name.startswith("-"):
        raise BadInput(f"invalid branch name {name!r}: it starts with '-'")
    if name == "HEAD" or name.startswith("refs/"):
        raise BadInput(f"invalid branch name {name!r}: give a short name like codex/fix-tests")
    result = git.run(None, "check-ref-format", "--branch", name, ok=git.ANY)
    # --branch also expands @{-1} and friends: only a name that stays itself is one.
    if result.code != 0 or result.text != name:
        raise BadInput(
            f"invalid branch name {name!r}: git does not accept it "
            "(no spaces, '..', '~', '^', ':', '?', '*', '[', '\\', '@{', or a trailing '.lock')"
        )
    return name


def default_branch(prefix: str, name: str) -> str:
    """The branch of a worktree task: ``<prefix><name>``, spaces as dashes; checked."""
    return check_branch(prefix + re.sub(r"\s+", "-", name.strip()))


# -- checkouts -------------------------------------------------------------------------


def checkouts(repo: str | Path) -> dict[str, list[Path]]:
    """Each local branch checked out in worktrees of ``repo`` → those worktrees (one, mostly)."""
    found: dict[str, list[Path]] = {}
    for branch, path, _ in _worktrees(repo):
        if branch is not None:
            found.setdefault(branch, []).append(path)
    return found


def rebasing(repo: str | Path) -> dict[str, Path]:
    """Each local branch a worktree of ``repo`` is rebasing (its HEAD detached meanwhile)."""
    found: dict[str, Path] = {}
    for branch, path, detached in _worktrees(repo):
        if branch is not None or not detached or not path.is_dir():
            continue
        for state_dir in ("rebase-merge", "rebase-apply"):
            name = git.text(
                path, "rev-parse", "--path-format=absolute", "--git-path", f"{state_dir}/head-name"
            )
            try:
                head = Path(name).read_text(encoding="utf-8", errors="surrogateescape").strip()
            except OSError:
                continue
            if head.startswith("refs/heads/"):
                found[head[len("refs/heads/") :]] = path
    return found


def _worktrees(repo: str | Path) -> list[tuple[str | None, Path, bool]]:
    """``(branch or None, path, detached)`` of every worktree of ``repo``."""
    out = git.run(repo, "worktree", "list", "--porcelain", "-z").stdout
    found: list[tuple[str | None, Path, bool]] = []
    for record in out.split(b"\0\0"):
        fields = git.split_z(record)
        path = next((f[9:] for f in fields if f.startswith("worktree ")), None)
        if not path:
            continue
        ref = next((f[7:] for f in fields if f.startswith("branch ")), "")
        branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
        found.append((branch, Path(path), "detached" in fields))
    return found


# -- create ----------------------------------------------------------------------------


def branch_exists(repo: str | Path, branch: str) -> bool:
    """Whether ``repo`` has a local branch of exactly that name; BadInput if it is no name."""
    check_branch(branch)
    result = git.run(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", ok=git.ANY)
    if result.code not in (0, 1):
        raise NotPossible(f"cannot look up branch {branch!r} in {repo}: {result.message}")
    return result.code == 0


def create(repo: str | Path, path: str | Path, branch: str, base: str | None = None) -> Worktree:
    """A new worktree at ``path`` on a new ``branch`` made from ``base``.

    ``base`` defaults to the branch checked out in ``repo`` (a detached HEAD:
    its commit). BadInput when ``repo`` is not a repository, the branch
    exists or is not a valid name, ``base`` names no commit, or ``path`` is
    not empty. The branch is made atomically first (``update-ref`` with no
    old value): of two calls making one branch at once, one wins and the
    other touches nothing of it.
    """
    top = git.toplevel(repo)
    check_branch(branch)
    taken = f"branch {branch!r} already exists in {top}: choose another name"
    if git.branch_commit(top, branch) is not None:
        raise BadInput(taken)
    if base is None:
        head = git.run(top, "symbolic-ref", "--quiet", "--short", "HEAD", ok=git.ANY)
        base = head.text if head.code == 0 and head.text else None
        base_commit = git.resolve(top, "HEAD")
        if base_commit is None:
            raise BadInput(f"the repository {top} has no commit yet: commit something first")
        base = base or base_commit
    else:
        if not base or _CONTROL.search(base):
            raise BadInput(f"invalid base {base!r}")
        found = git.resolve(top, base)
        if found is None:
            raise BadInput(f"base {base!r} is not a commit in {top}")
        base_commit = found
    where = Path(path).expanduser().absolute()
    if where.exists() and (not where.is_dir() or any(where.iterdir())):
        raise BadInput(f"worktree path {where} already exists and is not an empty directory")
    ref = f"refs/heads/{branch}"
    made = git.run(
        top, "update-ref", "-m", "tmux-codex: branch of a new worktree", ref, base_commit, "",
        ok=git.ANY,
    )  # fmt: skip
    if made.code != 0:
        if git.branch_commit(top, branch) is not None:
            raise BadInput(taken)  # made meanwhile by someone else: theirs, untouched
        raise NotPossible(f"cannot create branch {branch}: {made.message}")
    result = git.run(top, "worktree", "add", "--quiet", str(where), branch, ok=git.ANY)
    if result.code != 0:
        # This call made the branch: it goes again (unless it moved meanwhile).
        git.run(top, "update-ref", "-d", ref, base_commit, ok=git.ANY)
        raise NotPossible(f"cannot create a worktree at {where}: {result.message}")
    return Worktree(top, where.resolve(), branch, base, base_commit)


# -- state -----------------------------------------------------------------------------


def base_commit_now(wt: Worktree) -> str:
    """The commit the worktree's base names now (its creation commit if the base is gone)."""
    if wt.base != wt.base_commit:
        now = git.branch_commit(wt.repo, wt.base) or git.resolve(wt.repo, wt.base)
        if now:
            return now
    return wt.base_commit


def contains(repo: str | Path, base: str, tip: str) -> bool:
    """Whether ``base`` holds all of ``tip``: by history, or by content (a squash merge)."""
    if git.is_ancestor(repo, tip, base):
        return True
    if not git.has_merge_tree():
        return False
    result = git.run(repo, "merge-tree", "--write-tree", "-z", base, tip, ok=git.ANY)
    if result.code != 0:
        return False
    tree = result.stdout.split(b"\0", 1)[0].decode()
    return tree == git.text(repo, "rev-parse", f"{base}^{{tree}}")


def state(wt: Worktree) -> State:
    """What ``wt`` holds: uncommitted changes, commits its base lacks, whether it is merged.

    And what no branch knows of: commits on a detached HEAD, an operation
    stopped halfway, git repositories of their own inside it.
    """
    exists = wt.path.is_dir()
    tip = git.branch_commit(wt.repo, wt.branch)
    base = base_commit_now(wt)
    changes, detached = Status(), 0
    busy: str | None = None
    nested: tuple[str, ...] = ()
    if exists:
        changes = status(wt.path)
        detached = detached_commits(wt.path)
        busy = in_progress(wt.path)
        nested = nested_repositories(wt.path, base, changes)
    if tip is None:
        return State(exists, None, changes, (), True, detached, busy, nested)
    ahead = tuple(git.text(wt.repo, "rev-list", f"{base}..{tip}").split())
    merged = not ahead or contains(wt.repo, base, tip)
    return State(exists, tip, changes, ahead, merged, detached, busy, nested)


# -- remove ----------------------------------------------------------------------------


def remove(wt: Worktree, force: bool = False, purge: bool = False) -> State:
    """Remove the worktree (and with ``purge`` its branch); what it held is returned.

    Refuses (NotPossible) while it holds uncommitted changes, unmerged
    commits, commits on a detached HEAD, an operation stopped halfway or a
    git repository of its own, saying what, unless ``force``: then that work
    is discarded.
    """
    held = state(wt)
    if held.holds_work and not force:
        raise NotPossible(
            f"worktree {wt.path} (branch {wt.branch}) holds {held.describe()}: "
            "merge it first, or --force to discard it"
        )
    if purge:
        places = [*checkouts(wt.repo).get(wt.branch, []), rebasing(wt.repo).get(wt.branch)]
        elsewhere = [p for p in places if p is not None and p.resolve() != wt.path.resolve()]
        if elsewhere:
            raise NotPossible(
                f"branch {wt.branch} is also checked out at {elsewhere[0]}: nothing removed"
            )
    if held.exists:
        args = ["worktree", "remove", *(["--force"] if force else []), str(wt.path)]
        result = git.run(wt.repo, *args, ok=git.ANY)
        if result.code != 0:
            raise NotPossible(f"cannot remove worktree {wt.path}: {result.message}")
    elif wt.path.resolve() in {path.resolve() for _, path, _ in _worktrees(wt.repo)}:
        git.run(wt.repo, "worktree", "prune")  # its directory is gone: forget it
    if purge and held.branch_commit is not None:
        ref = f"refs/heads/{wt.branch}"
        result = git.run(wt.repo, "update-ref", "-d", ref, held.branch_commit, ok=git.ANY)
        if result.code != 0:
            raise NotPossible(
                f"branch {wt.branch} moved while being removed: kept it ({result.message})"
            )
    return held
