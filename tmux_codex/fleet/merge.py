"""A worktree task's branch into its base: checked first, then done, or nothing changes.

1. What is uncommitted in the worktree becomes a commit object (through a
   copy of its index), not yet on any branch.
2. ``git merge-tree --write-tree`` merges that commit into the base in
   memory: a conflict stops here, naming the files, nothing changed.
   A folder that is a git repository of its own (``git init`` inside the
   worktree) stops it too: it would be merged as a bare commit id (a
   gitlink) without its files.
3. The base's own checkout, if the base branch is checked out somewhere,
   must have no changes to tracked files and no untracked file in the way.
4. Only then: the worktree's branch takes the new commit (its index is
   reset to it, its files stay as they are), the new base commit is made
   (the branch itself for a fast-forward, a merge commit, or with
   ``squash`` one commit on the base), and the base moves to it: by
   ``git merge --ff-only`` in its checkout, or by ``git update-ref`` with
   the old value as a guard where it is checked out nowhere.

Commits use the user's identity, or ``tmux-codex <tmux-codex@localhost>``
where none is configured. No hook of the repository runs, for them or
for the checkout's ``git merge`` (:data:`tmux_codex.core.git.SAFE_CONFIG`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tmux_codex.core import git
from tmux_codex.core.errors import NotPossible
from tmux_codex.fleet.held import added_gitlinks, status
from tmux_codex.fleet.worktrees import Worktree, checkouts, contains, rebasing

#: Conflicting files named in an error before "and N more".
_SHOWN = 10


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge` did."""

    kind: str  #: fast-forward | merge | squash | up-to-date
    base: str  #: the base branch
    branch: str  #: the worktree's branch
    old_base: str  #: the base's commit before
    new_base: str  #: the base's commit after (the same when up to date)
    work_commit: str | None  #: the commit made of the worktree's uncommitted work, if any
    checkout: Path | None  #: the base's checkout that was updated, if it has one

    def to_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "base": self.base,
            "branch": self.branch,
            "old_base": self.old_base,
            "new_base": self.new_base,
            "work_commit": self.work_commit,
            "checkout": str(self.checkout) if self.checkout else None,
        }


def merge(
    wt: Worktree, squash: bool = False, message: str | None = None, task: str | None = None
) -> MergeResult:
    """Merge the worktree's branch (and its uncommitted work) into its base branch.

    ``task`` names the task in the messages of the commits made (default the
    branch). NotPossible, with nothing changed, when the base is not a local
    branch, the merge would conflict, or the base's checkout has changes.
    """
    git.require_merge_tree()
    repo = wt.repo
    label = task or wt.branch
    base_ref = _base_branch(wt)
    old_base = git.text(repo, "rev-parse", "--verify", f"refs/heads/{base_ref}")
    branch_tip = git.branch_commit(repo, wt.branch)
    if branch_tip is None:
        raise NotPossible(f"branch {wt.branch} no longer exists in {repo}: nothing to merge")

    work_commit = _work_commit(wt, branch_tip, label) if wt.path.is_dir() else None
    tip = work_commit or branch_tip
    if git.is_ancestor(repo, tip, old_base) or (squash and contains(repo, old_base, tip)):
        return MergeResult("up-to-date", base_ref, wt.branch, old_base, old_base, None, None)

    for made in dict.fromkeys((tip, branch_tip)):  # the work commit's tree, and the branch's
        nested = added_gitlinks(repo, "diff-tree", "-r", old_base, made)
        if nested:
            raise NotPossible(_nested(wt, nested))
    tree = _merge_tree(repo, old_base, tip, wt.branch, base_ref)
    busy = rebasing(repo).get(base_ref)
    if busy is not None:
        raise NotPossible(
            f"{base_ref} is being rebased at {busy}: finish or abort the rebase first, "
            "nothing was changed"
        )
    places = checkouts(repo).get(base_ref, [])
    if len(places) > 1:
        raise NotPossible(
            f"{base_ref} is checked out in {len(places)} worktrees ({_list(places)}): "
            "leave it in one, nothing was changed"
        )
    checkout = places[0] if places else None
    if checkout is not None:
        _check_checkout(repo, checkout, base_ref, old_base, tree)

    # Checked: from here on things change.
    if work_commit is not None:
        _advance(wt, branch_tip, work_commit, label)
    ident = git.identity(repo)
    if squash:
        kind = "squash"
        body = _subjects(repo, old_base, tip)
        text = message or f"{label}: squashed from {wt.branch}\n\n{body}"
        new_base = _commit(repo, ident, tree, text, old_base)
    elif git.is_ancestor(repo, old_base, tip):
        kind, new_base = "fast-forward", tip
    else:
        kind = "merge"
        text = message or f"Merge branch '{wt.branch}' into {base_ref} (tmux-codex task {label})"
        new_base = _commit(repo, ident, tree, text, old_base, tip)

    if checkout is not None:
        result = git.run(
            checkout, "merge", "--ff-only", "--no-squash", "--no-autostash",
            "--no-verify-signatures", "--quiet", new_base, ok=git.ANY,
        )  # fmt: skip
        if result.code != 0:
            raise NotPossible(_late(f"{checkout} did not take the merge: {result.message}", wt))
    else:
        result = git.run(
            repo, "update-ref", "-m", f"tmux-codex: merge {wt.branch} ({kind})",
            f"refs/heads/{base_ref}", new_base, old_base, ok=git.ANY,
        )  # fmt: skip
        if result.code != 0:
            raise NotPossible(_late(f"{base_ref} moved meanwhile: {result.message}", wt))
    return MergeResult(kind, base_ref, wt.branch, old_base, new_base, work_commit, checkout)


def _base_branch(wt: Worktree) -> str:
    """The local branch the worktree merges into (its base, as given when it was made)."""
    name = wt.base.removeprefix("refs/heads/")
    if name != wt.base_commit and git.branch_commit(wt.repo, name) is not None:
        return name
    raise NotPossible(
        f"the base of {wt.branch} is {wt.base!r}, not a local branch: "
        "merge it by hand (git merge), nothing was changed"
    )


def _work_commit(wt: Worktree, branch_tip: str, label: str) -> str | None:
    """A commit (on no branch yet) of the worktree's uncommitted work; None if it has none."""
    head = git.run(wt.path, "symbolic-ref", "--quiet", "HEAD", ok=git.ANY).text
    if head != f"refs/heads/{wt.branch}":
        raise NotPossible(
            f"worktree {wt.path} has {head or 'a detached HEAD'} checked out, not {wt.branch}: "
            "check the branch out again there, nothing was changed"
        )
    held = status(wt.path)
    if held.conflicted:
        raise NotPossible(
            f"worktree {wt.path} has unresolved conflicts ({_list(held.conflicted)}): "
            "resolve them first, nothing was changed"
        )
    if held.repositories:
        raise NotPossible(_nested(wt, held.repositories))
    if not held.files:
        return None
    real = Path(git.text(wt.path, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    with tempfile.TemporaryDirectory(prefix="tmux-codex-index-") as scratch:
        copy = os.path.join(scratch, "index")
        if real.exists():
            shutil.copy2(real, copy)  # its mtime too: git tells racily clean entries by it
        env = {"GIT_INDEX_FILE": copy}
        git.run(wt.path, "add", "--all", env=env)
        tree = git.run(wt.path, "write-tree", env=env).text
    if tree == git.text(wt.path, "rev-parse", f"{branch_tip}^{{tree}}"):
        return None
    text = f"{label}: uncommitted work (committed by tmux-codex merge)"
    return _commit(wt.path, git.identity(wt.path), tree, text, branch_tip)


def _merge_tree(repo: Path, base: str, tip: str, branch: str, base_ref: str) -> str:
    """The merged tree of ``base`` and ``tip``; NotPossible naming the files on a conflict."""
    result = git.run(
        repo, *("-c", "core.quotePath=false"), "merge-tree", "--write-tree", "-z",
        "--name-only", "--no-messages", base, tip, ok=git.ANY,
    )  # fmt: skip
    if result.code == 0:
        return result.stdout.split(b"\0", 1)[0].decode()
    if result.code == 1:
        names = list(dict.fromkeys(git.split_z(result.stdout)[1:]))
        raise NotPossible(
            f"merging {branch} into {base_ref} would conflict in {_list(names)}: "
            f"nothing was changed (merge {base_ref} into {branch} in the worktree, resolve, retry)"
        )
    raise NotPossible(f"cannot check the merge of {branch} into {base_ref}: {result.message}")


def _check_checkout(repo: Path, checkout: Path, base_ref: str, old_base: str, tree: str) -> None:
    """NotPossible unless the base's checkout can take the merge without losing anything."""
    if not checkout.is_dir():
        raise NotPossible(
            f"{base_ref} is checked out at {checkout}, which is missing: "
            "run 'git worktree prune' or restore it, nothing was changed"
        )
    held = status(checkout)
    if held.tracked_dirty:
        changed = (*held.staged, *held.unstaged, *held.conflicted)
        raise NotPossible(
            f"the checkout of {base_ref} at {checkout} has uncommitted changes "
            f"({_list(sorted(set(changed)))}): commit or stash them first, nothing was changed"
        )
    added = git.run(
        repo, *("-c", "core.quotePath=false"), "diff", "--no-renames", "--name-only", "-z",
        "--diff-filter=A", old_base, tree, "--",
    ).stdout  # fmt: skip
    in_the_way = [name for name in git.split_z(added) if _occupied(checkout, name)]
    if in_the_way:
        raise NotPossible(
            f"the checkout of {base_ref} at {checkout} has untracked files the merge would "
            f"overwrite ({_list(in_the_way)}): move them away, nothing was changed"
        )


def _occupied(checkout: Path, name: str) -> bool:
    """Whether something untracked sits where the merge puts ``name`` (or one of its folders)."""
    parts = Path(name).parts
    for depth in range(1, len(parts) + 1):
        spot = checkout.joinpath(*parts[:depth])
        if depth == len(parts):
            return os.path.lexists(spot)
        if spot.is_symlink() or (spot.exists() and not spot.is_dir()):
            return True
        if not spot.exists():
            return False
    return False


def _advance(wt: Worktree, old: str, new: str, label: str) -> None:
    """The worktree's branch takes its work commit; its index follows, its files stay."""
    git.run(wt.repo, "update-ref", "-m", f"tmux-codex: commit work of {label}",
            f"refs/heads/{wt.branch}", new, old)  # fmt: skip
    git.run(wt.path, "reset", "--quiet", "--mixed", "--no-recurse-submodules")


def _commit(cwd: str | Path, ident: list[str], tree: str, text: str, *parents: str) -> str:
    args = [arg for parent in parents for arg in ("-p", parent)]
    return git.run(cwd, *ident, "commit-tree", tree, *args, stdin=text.encode()).text


def _subjects(repo: Path, old_base: str, tip: str) -> str:
    out = git.text(repo, "log", "--no-color", "--format=* %s", "--reverse", f"{old_base}..{tip}")
    return out or "(no commits)"


def _list(names: Sequence[str | Path]) -> str:
    shown = ", ".join(map(str, names[:_SHOWN]))
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _nested(wt: Worktree, names: Sequence[str]) -> str:
    """Why folders that are git repositories of their own are not merged."""
    one = len(names) == 1
    return (
        f"{_list(names)} {'is a git repository of its own' if one else 'are git repositories'} "
        f"inside the worktree {wt.path}: a merge would record only a commit id, not the files "
        "(remove the .git inside to merge them as files, or add a submodule by hand), "
        "nothing was changed"
    )


def _late(what: str, wt: Worktree) -> str:
    return f"{what} (the worktree's work is committed on {wt.branch}; retry the merge)"
