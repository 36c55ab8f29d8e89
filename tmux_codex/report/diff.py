"""What a task changed since it began, through git's own diff.

Four kinds of change, for a worktree task and for a task in a plain git
workdir: **committed** since the task's start commit (on its branch, or
HEAD), **staged**, **unstaged** and **untracked** (not ignored). ``files`` is
all of it at once: the start commit against the working tree, untracked
files included.

Untracked files enter git's diff as intent-to-add entries (``git add -N``)
of a *copy* of the index (``GIT_INDEX_FILE``): the user's own index is never
written. The lists come from ``--numstat``/``--raw`` output, whose size grows
with the number of files, not with their contents; a whole patch is streamed
(:func:`render_to`), never held.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tmux_codex.core import git
from tmux_codex.core.errors import NotPossible
from tmux_codex.report.changes import FileChange

_STATUS = {
    "A": "added",
    "C": "copied",
    "D": "deleted",
    "M": "modified",
    "R": "renamed",
    "T": "type-changed",
    "U": "unmerged",
}
#: Options of every diff here: no external diff or textconv, real a/ b/ prefixes, renames.
_DIFF = ("diff", "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/", "-M")
_NAMES = ("-c", "core.quotePath=false")


@dataclass(frozen=True)
class Diff:
    """What changed in a repository since a commit (paths from the repository's top)."""

    root: Path  #: the working tree looked at
    since: str  #: the start commit (the empty tree when the task began before any commit)
    head: str | None  #: the commit ``committed`` ends at: the branch's tip, or HEAD
    live: bool  #: the working tree holds ``head``: staged/unstaged/untracked belong to it
    commits: int  #: commits since ``since`` up to ``head``
    committed: tuple[FileChange, ...]
    staged: tuple[FileChange, ...]
    unstaged: tuple[FileChange, ...]
    untracked: tuple[FileChange, ...]
    files: tuple[FileChange, ...]  #: ``since`` against the working tree, all kinds at once

    @property
    def empty(self) -> bool:
        return not self.files


def changes(workdir: str | Path, since_commit: str | None, branch: str | None = None) -> Diff:
    """What changed in ``workdir``'s repository since ``since_commit``.

    ``since_commit`` None means the task began before the repository's first
    commit (everything counts). With ``branch``, commits are counted to that
    branch's tip; staged, unstaged and untracked changes count only when the
    branch is the one checked out in ``workdir`` (a worktree's), since they
    belong to that checkout. BadInput when ``workdir`` is not in a git
    repository; NotPossible when the start commit or the branch is gone.
    """
    root = git.toplevel(workdir)
    since = _since(root, since_commit)
    head = git.resolve(root, "HEAD")
    live = True
    if branch is not None:
        tip = git.branch_commit(root, branch)
        if tip is None:
            raise NotPossible(f"branch {branch!r} does not exist in {root}")
        current = git.run(root, "symbolic-ref", "--quiet", "HEAD", ok=git.ANY).text
        live = current == f"refs/heads/{branch}"
        head = tip
    committed: tuple[FileChange, ...] = ()
    commits = 0
    if head is not None:
        committed = _changes(root, since, head)
        if since_commit is not None:
            commits = int(git.text(root, "rev-list", "--count", f"{since}..{head}"))
        else:
            commits = int(git.text(root, "rev-list", "--count", head))
    if not live:
        return Diff(root, since, head, False, commits, committed, (), (), (), committed)

    untracked_names = _untracked(root)
    with _intent_index(root, untracked_names) as env:
        staged = _changes(root, head or git.empty_tree(root), cached=True, env=env)
        worktree = _changes(root, env=env)
        files = _changes(root, since, env=env)
    known = set(untracked_names)
    unstaged = tuple(c for c in worktree if c.path not in known)
    untracked = [_as_untracked(c) for c in worktree if c.path in known]
    listed = {c.path for c in untracked}
    # What git could not diff (a nested repository): listed, lines unknown.
    untracked += [FileChange(name, "untracked", None, None) for name in known - listed]
    untracked.sort(key=lambda c: c.path)
    everything = [_as_untracked(c) if c.path in known else c for c in files]
    everything += [c for c in untracked if c.path not in {f.path for f in everything}]
    everything.sort(key=lambda c: c.path)
    return Diff(
        root, since, head, True, commits, committed, staged, unstaged, tuple(untracked),
        tuple(everything),
    )  # fmt: skip


def to_json(diff: Diff) -> dict[str, Any]:
    """The JSON of ``diff --json``: each kind's files, and all of them with totals."""

    def listing(changes: tuple[FileChange, ...]) -> list[dict[str, Any]]:
        return [change.to_dict() for change in changes]

    return {
        "root": str(diff.root),
        "since": diff.since,
        "head": diff.head,
        "commits": diff.commits,
        "files": listing(diff.files),
        "committed": listing(diff.committed),
        "staged": listing(diff.staged),
        "unstaged": listing(diff.unstaged),
        "untracked": listing(diff.untracked),
        "totals": {
            "files": len(diff.files),
            "added": sum(c.added or 0 for c in diff.files),
            "removed": sum(c.removed or 0 for c in diff.files),
        },
    }


def render_to(
    diff: Diff, out: BinaryIO, stat: bool = False, color: bool = False, width: int | None = None
) -> None:
    """Write git's own diff of ``diff`` (a patch, or with ``stat`` its ``--stat``) to ``out``.

    ``color`` gives ``--color=always``; otherwise there is no escape at all.
    The patch is copied as git writes it, never held whole.
    """
    args = [*_NAMES, *_DIFF, "--color=always" if color else "--no-color"]
    if stat:
        args.append(f"--stat={width}" if width else "--stat")
    if not diff.live:
        if diff.head is not None:
            git.stream(diff.root, *args, diff.since, diff.head, "--", out=out)
        return
    names = [c.path for c in diff.untracked]
    with _intent_index(diff.root, names) as env:
        git.stream(diff.root, *args, diff.since, "--", out=out, env=env)


def render(diff: Diff, stat: bool = False, color: bool = False, width: int | None = None) -> bytes:
    """:func:`render_to` into bytes (for a ``--stat``, or a diff known to be small)."""
    buffer = io.BytesIO()
    render_to(diff, buffer, stat=stat, color=color, width=width)
    return buffer.getvalue()


# -- git --------------------------------------------------------------------------------


def _since(root: Path, since_commit: str | None) -> str:
    if since_commit is None:
        return git.empty_tree(root)
    found = git.resolve(root, since_commit)
    if found is None:
        raise NotPossible(f"start commit {since_commit} is no longer in {root}")
    return found


def _untracked(root: Path) -> list[str]:
    out = git.run(root, *_NAMES, "ls-files", "--others", "--exclude-standard", "-z").stdout
    return git.split_z(out)


@contextmanager
def _intent_index(root: Path, untracked: list[str]) -> Iterator[dict[str, str]]:
    """An environment whose index is a copy of the real one plus ``untracked`` as intent-to-add.

    Entries git cannot add (a nested repository, shown as ``dir/``) are left
    out; if adding fails anyway the copy is used as it is.
    """
    real = Path(git.text(root, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    with tempfile.TemporaryDirectory(prefix="tmux-codex-index-") as scratch:
        copy = Path(scratch, "index")
        try:
            shutil.copy2(real, copy)  # its mtime too: a fresh one hides same-size edits
        except FileNotFoundError:
            pass  # no index yet: git starts from an empty one
        except OSError as exc:
            raise NotPossible(f"cannot copy the index of {root}: {exc.strerror or exc}") from None
        env = {"GIT_INDEX_FILE": str(copy)}
        names = [name for name in untracked if not name.endswith("/")]
        if names:
            listing = b"".join(name.encode("utf-8", "surrogateescape") + b"\0" for name in names)
            git.run(
                root,
                "add",
                "--intent-to-add",
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
                stdin=listing,
                env={**env, "GIT_LITERAL_PATHSPECS": "1"},
                ok=git.ANY,
            )
        yield env


def _changes(
    root: Path,
    *revs: str,
    cached: bool = False,
    env: dict[str, str] | None = None,
) -> tuple[FileChange, ...]:
    """Files ``git diff [--cached] REVS`` lists, with status and line counts."""
    args = [*_NAMES, *_DIFF, "--raw", "--numstat", "-z", "--no-abbrev"]
    if cached:
        args.append("--cached")
    out = git.run(root, *args, *revs, "--", env=env).stdout
    return tuple(sorted(_parse(out), key=lambda c: c.path))


def _parse(out: bytes) -> Iterator[FileChange]:
    """``--raw --numstat -z``: every raw record (``:`` first), then every numstat record."""
    fields = out.split(b"\0")
    raw: list[tuple[str, str, str | None]] = []
    counts: dict[str, tuple[int | None, int | None]] = {}
    i = 0
    while i < len(fields):
        field = fields[i]
        i += 1
        if not field:
            continue
        if field.startswith(b":"):
            code = field.rsplit(b" ", 1)[-1].decode("ascii", "replace")[:1]
            if code in ("R", "C"):
                raw.append((_name(fields[i + 1]), _STATUS[code], _name(fields[i])))
                i += 2
            else:
                raw.append((_name(fields[i]), _STATUS.get(code, "modified"), None))
                i += 1
        else:
            added, removed, where = field.split(b"\t", 2)
            if not where:  # a rename or copy: the old and the new path follow
                where = fields[i + 1]
                i += 2
            counts[_name(where)] = (_count(added), _count(removed))
    for name, status, renamed_from in raw:
        plus, minus = counts.get(name, (None, None))
        yield FileChange(name, status, plus, minus, old_path=renamed_from)


def _as_untracked(change: FileChange) -> FileChange:
    return FileChange(change.path, "untracked", change.added, change.removed)


def _name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _count(value: bytes) -> int | None:
    return None if value == b"-" else int(value)
