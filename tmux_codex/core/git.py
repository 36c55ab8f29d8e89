"""The one way tmux-codex runs git: argv lists, ``git -C DIR``, a predictable environment.

No shell ever sees an argument. Every call runs with ``LC_ALL=C`` (messages
that can be matched), ``GIT_TERMINAL_PROMPT=0`` (never a password prompt on
the user's terminal), ``GIT_OPTIONAL_LOCKS=0`` (a read never takes
``index.lock`` from under Codex's own git commands) and without the variables
that point git at another repository or index (``GIT_DIR``,
``GIT_INDEX_FILE``, ``GIT_CONFIG_PARAMETERS``, … — set when tmux-codex runs
from inside a git hook). Every call also gets :data:`SAFE_CONFIG`: no
repository hook and no fsmonitor program runs as the user. Callers add
``-c core.quotePath=false`` and ``-z`` where they parse file names.

A failure is one line: :class:`~tmux_codex.core.errors.BadInput` where the
user named something unusable (not a repository), otherwise
:class:`~tmux_codex.core.errors.NotPossible` with git's own first line.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from tmux_codex.core.errors import BadInput, NotPossible

#: Given to every git command: no hook of the repository runs (a task can write
#: ``core.hooksPath`` and the hooks themselves), and no fsmonitor program either.
SAFE_CONFIG = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")

#: ``git merge-tree --write-tree`` (a merge without a checkout) came with git 2.38.
MERGE_TREE_VERSION = (2, 38)
#: How long one git command may take before tmux-codex gives up on it.
TIMEOUT = 120.0
#: The identity of commits tmux-codex makes where the user has none configured.
FALLBACK_NAME = "tmux-codex"
FALLBACK_EMAIL = "tmux-codex@localhost"
#: Every exit status: for a command whose status is an answer, not a failure.
ANY = range(256)

#: Variables that make git use another repository, index or configuration
#: (``git rev-parse --local-env-vars``, plus the ones that change diff output).
_DROPPED_ENV = frozenset(
    {
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_CONFIG",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
        "GIT_OBJECT_DIRECTORY",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_GRAFT_FILE",
        "GIT_INDEX_FILE",
        "GIT_NO_REPLACE_OBJECTS",
        "GIT_REPLACE_REF_BASE",
        "GIT_PREFIX",
        "GIT_INTERNAL_SUPER_PREFIX",
        "GIT_SHALLOW_FILE",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_QUARANTINE_PATH",
        "GIT_EXTERNAL_DIFF",
        "GIT_DIFF_OPTS",
        "GIT_PAGER",
        "GIT_EDITOR",
        "GIT_SEQUENCE_EDITOR",
        "GIT_INDEX_VERSION",
        "GIT_LITERAL_PATHSPECS",
        "GIT_GLOB_PATHSPECS",
        "GIT_NOGLOB_PATHSPECS",
        "GIT_ICASE_PATHSPECS",
    }
)


@dataclass(frozen=True)
class Result:
    """What one git command did: its exit status and raw output."""

    code: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        """stdout as text without the final newline (names keep odd bytes as escapes)."""
        return self.stdout.decode("utf-8", "surrogateescape").rstrip("\n")

    @property
    def message(self) -> str:
        """git's first meaningful line on stderr, for an error message."""
        for line in self.stderr.decode("utf-8", "replace").splitlines():
            line = line.strip()
            if line and not line.startswith("hint:"):
                return re.sub(r"^(fatal|error): ", "", line)
        return f"exited {self.code}"


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every git command (``extra`` on top)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(
        LC_ALL="C",
        LANGUAGE="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_ADVICE="0",
    )
    if extra:
        env.update(extra)
    return env


def _argv(cwd: str | Path | None, args: Sequence[str]) -> list[str]:
    """The command line of one git command: the only place one is put together."""
    return ["git", *(("-C", str(cwd)) if cwd is not None else ()), *SAFE_CONFIG, *args]


def run(
    cwd: str | Path | None,
    *args: str,
    ok: Sequence[int] = (0,),
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run ``git -C cwd ARGS``; a status outside ``ok`` raises NotPossible with git's line."""
    argv = _argv(cwd, args)
    what = args[0] if args else "git"
    try:
        proc = subprocess.run(
            argv,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env=environment(env),
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise NotPossible("git is not installed (or not on PATH): install git") from None
    except subprocess.TimeoutExpired:
        raise NotPossible(f"git {what} took longer than {TIMEOUT:.0f}s: gave up") from None
    except OSError as exc:
        raise NotPossible(f"cannot run git: {exc.strerror or exc}") from None
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    if result.code not in ok:
        raise NotPossible(f"git {what} failed: {result.message}")
    return result


def stream(
    cwd: str | Path,
    *args: str,
    out: BinaryIO,
    env: Mapping[str, str] | None = None,
    chunk: int = 1 << 16,
) -> None:
    """Run ``git -C cwd ARGS`` and copy its stdout to ``out`` as it comes (never whole)."""
    argv = _argv(cwd, args)
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=environment(env),
            )
        except FileNotFoundError:
            raise NotPossible("git is not installed (or not on PATH): install git") from None
        except OSError as exc:
            raise NotPossible(f"cannot run git: {exc.strerror or exc}") from None
        assert proc.stdout is not None
        with proc:
            try:
                while data := proc.stdout.read(chunk):
                    out.write(data)
            except BaseException:
                proc.kill()
                raise
        if proc.returncode != 0:
            errors.seek(0)
            result = Result(proc.returncode, b"", errors.read(1 << 16))
            raise NotPossible(f"git {args[0]} failed: {result.message}")


def text(cwd: str | Path | None, *args: str) -> str:
    """stdout of a git command that must succeed, as text, final newline removed."""
    return run(cwd, *args).text


def split_z(data: bytes) -> list[str]:
    """NUL-separated names (``-z`` output) as text; undecodable bytes survive as escapes."""
    return [part.decode("utf-8", "surrogateescape") for part in data.split(b"\0") if part]


# -- the git installed -----------------------------------------------------------------


@lru_cache(maxsize=1)
def git_version() -> tuple[int, int, int]:
    """The installed git's version, e.g. ``(2, 39, 5)``."""
    out = text(None, "--version")
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if not match:
        raise NotPossible(f"cannot read git's version from {out!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def has_merge_tree() -> bool:
    """Whether ``git merge-tree --write-tree`` exists here (git 2.38 or later)."""
    return git_version()[:2] >= MERGE_TREE_VERSION


def require_merge_tree() -> None:
    """NotPossible unless git can check a merge without a checkout (git ≥ 2.38)."""
    if not has_merge_tree():
        have = ".".join(map(str, git_version()))
        raise NotPossible(
            f"git {have} cannot check a merge without touching a checkout "
            "(merge-tree --write-tree): install git 2.38 or later"
        )


# -- repositories ----------------------------------------------------------------------


def toplevel(path: str | Path) -> Path:
    """The top of the working tree that holds ``path``; BadInput if it is not in one."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise BadInput(f"{path} does not exist or is not a directory")
    result = run(folder, "rev-parse", "--show-toplevel", ok=(0, 128))
    if result.code != 0 or not result.text:
        if "not a git repository" in result.message:
            raise BadInput(f"{path} is not in a git repository")
        raise BadInput(f"{path} is not in a git working tree: {result.message}")
    return Path(result.text).resolve()


def resolve(cwd: str | Path, rev: str) -> str | None:
    """The commit ``rev`` names (full sha), or None; ``rev`` is never read as an option."""
    result = run(
        cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", ok=ANY
    )
    return (result.text or None) if result.code == 0 else None


def branch_commit(cwd: str | Path, branch: str) -> str | None:
    """The commit local branch ``branch`` points to, or None when there is no such branch."""
    # show-ref --verify takes the name exactly (rev-parse would also try refs/tags/refs/heads/…).
    result = run(cwd, "show-ref", "--verify", "--hash", f"refs/heads/{branch}", ok=ANY)
    return (result.text or None) if result.code == 0 else None


def is_ancestor(cwd: str | Path, older: str, newer: str) -> bool:
    """Whether commit ``older`` is reachable from ``newer`` (or the same commit)."""
    return run(cwd, "merge-base", "--is-ancestor", older, newer, ok=(0, 1)).code == 0


def empty_tree(cwd: str | Path) -> str:
    """The empty tree's id in this repository's hash (sha1 or sha256)."""
    return text(cwd, "hash-object", "-t", "tree", "--stdin")


def identity(cwd: str | Path) -> list[str]:
    """``-c`` options giving a fallback identity where the user configured none.

    Commits tmux-codex makes must never fail because ``user.name`` or
    ``user.email`` is unset (git would stop with "Please tell me who you are").
    ``GIT_AUTHOR_*``/``GIT_COMMITTER_*`` variables still win, as in git.
    """
    options: list[str] = []
    for key, fallback in (("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL)):
        if run(cwd, "config", "--get", key, ok=ANY).code != 0:
            options += ["-c", f"{key}={fallback}"]
    return options
