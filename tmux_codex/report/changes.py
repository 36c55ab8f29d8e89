"""What files changed in a task's workdir, as git sees it (:func:`changed_files`).

Every file that differs from the commit that was HEAD when the task started
(committed since, staged, unstaged) and every untracked file, with
added/removed line counts. Everything here reads: nothing changes the
repository, and no command takes git's index lock from under Codex.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmux_codex.core import git
from tmux_codex.core.errors import TmuxCodexError

__all__ = ["FileChange", "changed_files"]


@dataclass(frozen=True)
class FileChange:
    """One file that differs from the task's start commit.

    ``status`` is ``added``, ``modified``, ``deleted``, ``renamed`` (then
    ``old_path`` is where it came from) or ``untracked``. ``added`` and
    ``removed`` count lines; both are ``None`` for a binary file.
    """

    path: str
    status: str
    added: int | None
    removed: int | None
    old_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "added": self.added,
            "removed": self.removed,
            "old_path": self.old_path,
        }


# -- files changed (git) ----------------------------------------------------------

#: Bytes of a file looked at to tell binary from text (git looks at 8000).
_BINARY_SNIFF = 8000
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "added"}


class _GitError(Exception):
    pass


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """git's output (the one runner, :mod:`tmux_codex.core.git`); its failure as ``_GitError``."""
    try:
        return git.run(root, *args, stdin=stdin).stdout
    except TmuxCodexError as exc:
        raise _GitError(str(exc)) from None


def _decode(path: bytes) -> str:
    return path.decode("utf-8", "replace")


def _count(value: bytes) -> int | None:
    return None if value == b"-" else int(value)


def changed_files(
    workdir: str | Path, start_commit: str | None
) -> tuple[list[FileChange], str | None]:
    """Files that differ from ``start_commit`` in the workdir's repository, and an error.

    Compares the start commit with the working tree, so changes committed
    since, staged and unstaged all count, once per file; untracked files that
    are not ignored are listed too, all their lines counted as added. With
    ``start_commit`` ``None`` (the repository had no commit when the task
    started) everything is compared with the empty tree. Paths are relative to
    the top of the repository, sorted.

    Never raises for git's sake: when the changes cannot be known the list is
    empty and the error says why (``"not a git repository"``, a start commit
    that is gone, git missing, …).
    """
    folder = Path(workdir)
    if not folder.is_dir():
        return [], f"workdir {folder} does not exist"
    try:
        try:
            top = _git(folder, "rev-parse", "--show-toplevel").decode("utf-8", "surrogateescape")
        except _GitError as exc:
            if "not a git repository" in str(exc):
                return [], "not a git repository"
            raise
        root = Path(top.strip())
        if start_commit:
            try:
                _git(root, "rev-parse", "--verify", "--quiet", f"{start_commit}^{{commit}}")
            except _GitError:
                return [], f"start commit {start_commit} is not in the repository"
            base = start_commit
        else:
            base = _git(root, "hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()
        diff = ("diff", "--no-ext-diff", "--no-textconv", "-M", "-z")
        numstat = _git(root, *diff, "--numstat", base, "--")
        name_status = _git(root, *diff, "--name-status", base, "--")
        untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    except _GitError as exc:
        return [], str(exc)

    counts = _parse_numstat(numstat)
    changes = [
        FileChange(path, status, *counts.get(path, (None, None)), old_path=old)
        for path, status, old in _parse_name_status(name_status)
    ]
    for raw in untracked.split(b"\0"):
        if raw:
            changes.append(FileChange(_decode(raw), "untracked", *_untracked_lines(root, raw)))
    changes.sort(key=lambda change: change.path)
    return changes, None


def _parse_numstat(out: bytes) -> dict[str, tuple[int | None, int | None]]:
    """Parse ``git diff --numstat -z``: ``A TAB R TAB PATH NUL``; for a rename
    ``A TAB R TAB NUL OLD NUL NEW NUL``."""
    found: dict[str, tuple[int | None, int | None]] = {}
    fields = out.split(b"\0")
    i = 0
    while i < len(fields):
        record = fields[i]
        i += 1
        if not record:
            continue
        added, removed, path = record.split(b"\t", 2)
        if not path:  # a rename: the old and the new path follow
            path = fields[i + 1]
            i += 2
        found[_decode(path)] = (_count(added), _count(removed))
    return found


def _parse_name_status(out: bytes) -> Iterator[tuple[str, str, str | None]]:
    """Parse ``git diff --name-status -z``: ``S NUL PATH NUL``, or ``R100 NUL OLD NUL NEW NUL``."""
    fields = out.split(b"\0")
    i = 0
    while i < len(fields):
        code = fields[i].decode("ascii", "replace")
        i += 1
        if not code:
            continue
        if code[0] in "RC":
            old, new = _decode(fields[i]), _decode(fields[i + 1])
            i += 2
            yield new, _STATUS[code[0]], old if code[0] == "R" else None
        else:
            path = _decode(fields[i])
            i += 1
            yield path, _STATUS.get(code[0], "modified"), None


def _untracked_lines(root: Path, raw: bytes) -> tuple[int | None, int | None]:
    """Lines of an untracked file, all added, as git would count them; binary → ``None``."""
    path = root / os.fsdecode(raw)
    try:
        if path.is_symlink():
            return 1, 0  # git stores a symlink as its target: one line
        if path.is_dir():  # a nested repository
            return None, None
        lines = 0
        last = b"\n"
        with open(path, "rb") as fh:
            first = True
            while chunk := fh.read(1 << 20):
                if first and b"\0" in chunk[:_BINARY_SNIFF]:
                    return None, None
                first = False
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None, None
    return lines + (last != b"\n"), 0
