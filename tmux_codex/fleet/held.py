"""What a checkout holds that removing it would lose, read from git (never changed here).

Besides uncommitted files and unmerged commits (:class:`State`), a worktree
can hold work no branch knows of: commits made on a detached HEAD, a rebase,
merge, cherry-pick or revert stopped halfway, and git repositories of their
own inside it (their history lives only in that folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tmux_codex.core import git

#: The mode of a gitlink: a commit of another repository recorded in a tree.
GITLINK = "160000"
#: Files in a git dir that say an operation stopped halfway, and its name.
_IN_PROGRESS = (
    ("rebase-merge", "a rebase"),
    ("rebase-apply/applying", "a git am"),
    ("rebase-apply", "a rebase"),
    ("MERGE_HEAD", "a merge"),
    ("CHERRY_PICK_HEAD", "a cherry-pick"),
    ("REVERT_HEAD", "a revert"),
)


@dataclass(frozen=True)
class Status:
    """Uncommitted changes of one checkout, by file (paths from its top)."""

    staged: tuple[str, ...] = ()
    unstaged: tuple[str, ...] = ()
    untracked: tuple[str, ...] = ()
    conflicted: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        """Every file with an uncommitted change, once, sorted."""
        return tuple(sorted({*self.staged, *self.unstaged, *self.untracked, *self.conflicted}))

    @property
    def tracked_dirty(self) -> bool:
        """Changes to tracked files (what a merge into this checkout must not meet)."""
        return bool(self.staged or self.unstaged or self.conflicted)

    @property
    def repositories(self) -> tuple[str, ...]:
        """Untracked folders git did not enter: git repositories of their own (no ``/``)."""
        return tuple(name.rstrip("/") for name in self.untracked if name.endswith("/"))


@dataclass(frozen=True)
class State:
    """What a worktree holds that removing it could lose."""

    exists: bool  #: the worktree's directory is there
    branch_commit: str | None  #: where its branch points; None when the branch is gone
    status: Status  #: uncommitted changes (empty when the directory is gone)
    ahead: tuple[str, ...]  #: commits on the branch its base lacks, newest first
    merged: bool  #: everything on the branch is in the base (by history, or by content)
    detached: int = 0  #: commits reachable from its HEAD only (no branch, tag or remote)
    in_progress: str | None = None  #: an operation stopped halfway ("a rebase", ...)
    nested: tuple[str, ...] = ()  #: git repositories of their own inside it

    @property
    def uncommitted(self) -> bool:
        return bool(self.status.files)

    @property
    def unmerged(self) -> bool:
        return bool(self.ahead) and not self.merged

    @property
    def holds_work(self) -> bool:
        return (
            self.uncommitted
            or self.unmerged
            or bool(self.detached or self.in_progress or self.nested)
        )

    def describe(self) -> str:
        """``2 uncommitted files (1 staged, 1 untracked: …) and 3 unmerged commits``."""
        parts = []
        if self.uncommitted:
            kinds = [
                f"{len(names)} {kind}"
                for kind, names in (
                    ("staged", self.status.staged),
                    ("unstaged", self.status.unstaged),
                    ("untracked", self.status.untracked),
                    ("conflicted", self.status.conflicted),
                )
                if names
            ]
            count = len(self.status.files)
            shown = ", ".join(repr(name) for name in self.status.files[:3])
            more = f", {count - 3} more" if count > 3 else ""
            parts.append(
                f"{count} uncommitted file{'s' * (count != 1)} ({', '.join(kinds)}: {shown}{more})"
            )
        if self.unmerged:
            count = len(self.ahead)
            parts.append(f"{count} unmerged commit{'s' * (count != 1)}")
        if self.detached:
            parts.append(f"{self.detached} commit{'s' * (self.detached != 1)} on a detached HEAD")
        if self.in_progress:
            parts.append(f"{self.in_progress} in progress")
        if self.nested:
            count = len(self.nested)
            shown = ", ".join(repr(name) for name in self.nested[:3])
            more = f", {count - 3} more" if count > 3 else ""
            which = "a git repository of its own" if count == 1 else f"{count} git repositories"
            parts.append(f"{which} ({shown}{more})")
        return " and ".join(parts) or "nothing unsaved"


def status(checkout: str | Path) -> Status:
    """The uncommitted changes of a checkout (``git status --porcelain -z``)."""
    out = git.run(
        checkout,
        "-c",
        "core.quotePath=false",
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignore-submodules=none",
        "--no-renames",
    ).stdout
    staged: list[str] = []
    unstaged: list[str] = []
    untracked: list[str] = []
    conflicted: list[str] = []
    for entry in git.split_z(out):
        code, path = entry[:2], entry[3:]
        if code == "??":
            untracked.append(path)
        elif "U" in code or code in ("AA", "DD"):
            conflicted.append(path)
        else:
            if code[0] != " ":
                staged.append(path)
            if code[1] != " ":
                unstaged.append(path)
    return Status(tuple(staged), tuple(unstaged), tuple(untracked), tuple(conflicted))


def detached_commits(checkout: str | Path) -> int:
    """How many commits the checkout's HEAD reaches that no branch, tag or remote does."""
    result = git.run(
        checkout, "rev-list", "--count", "HEAD", "--not", "--branches", "--tags", "--remotes",
        ok=git.ANY,
    )  # fmt: skip
    return int(result.text) if result.code == 0 and result.text.isdigit() else 0


def in_progress(checkout: str | Path) -> str | None:
    """The operation stopped halfway in the checkout (``a rebase``, ``a merge``, …), if any."""
    result = git.run(checkout, "rev-parse", "--absolute-git-dir", ok=git.ANY)
    if result.code != 0 or not result.text:
        return None
    git_dir = Path(result.text)
    for name, what in _IN_PROGRESS:
        if (git_dir / name).exists():
            return what
    return None


def added_gitlinks(cwd: str | Path, *diff: str) -> tuple[str, ...]:
    """Paths that are gitlinks on the new side of a raw ``diff`` and were none on the old.

    ``diff`` is ``diff-tree -r OLD NEW`` or ``diff-index --cached OLD``
    (both print the raw format, here with ``-z``).
    """
    out = git.run(cwd, "-c", "core.quotePath=false", *diff[:1], "-z", "--no-renames", *diff[1:])
    fields = git.split_z(out.stdout)
    found: list[str] = []
    for meta, path in zip(fields[::2], fields[1::2], strict=False):
        modes = meta.lstrip(":").split()
        if len(modes) >= 2 and modes[1] == GITLINK and modes[0] != GITLINK:
            found.append(path)
    return tuple(found)


def nested_repositories(checkout: Path, base: str, changes: Status) -> tuple[str, ...]:
    """Git repositories of their own inside the checkout that ``base`` has no gitlink for.

    Untracked ones (``changes`` lists them as ``name/``), and gitlinks its
    index added whose folder is a repository. Removing the checkout would
    delete their history, which lives nowhere else.
    """
    added = added_gitlinks(checkout, "diff-index", "--cached", base)
    tracked = [name for name in added if (checkout / name / ".git").exists()]
    return tuple(sorted({*changes.repositories, *tracked}))
