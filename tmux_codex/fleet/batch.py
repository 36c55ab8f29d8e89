"""Batch files: many tasks in one TOML file, checked whole before any starts.

    [[task]]
    name = "api"                  # required, unique in the file
    prompt = "Add the /health endpoint"   # or prompt_file = "prompts/api.md"
    workdir = "service"           # relative to this file; default its folder
    mode = "exec"                 # exec | tui; default the config's
    worktree = true               # its own git worktree and branch
    branch = "codex/api"          # worktree only; default <branch_prefix><name>
    base = "main"                 # worktree only; default the checked-out branch
    after = ["schema"]            # names in this file or existing tasks ("a,b" too)
    codex_args = ["--model", "o4-mini"]

The file and each ``prompt_file`` must be regular files (no pipe or
device), the file at most 1 MiB and a prompt no longer than ``start`` takes
(:data:`tmux_codex.tasks.launch.MAX_PROMPT_BYTES`); a prompt passes the
checks ``start`` makes. Two worktree entries never share a branch.

Every problem is a BadInput naming the file and the entry
(``batch FILE: task 3 (name "x"): …``); the entries come back ordered so
that each one's ``after`` tasks come first, in file order otherwise.
"""

from __future__ import annotations

import heapq
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmux_codex.core import git
from tmux_codex.core.config import parse_toml
from tmux_codex.core.errors import BadInput, TmuxCodexError
from tmux_codex.core.models import MODES
from tmux_codex.fleet.worktrees import check_branch, default_branch
from tmux_codex.tasks.launch import MAX_PROMPT_BYTES

#: The keys a [[task]] table may have.
KEYS = (
    "name",
    "prompt",
    "prompt_file",
    "workdir",
    "mode",
    "worktree",
    "branch",
    "base",
    "after",
    "codex_args",
)
#: A batch file larger than this is refused (read no further).
MAX_BATCH_BYTES = 1 << 20
#: What a file that is not a regular one is, for the error.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True)
class BatchTask:
    """One checked ``[[task]]`` entry."""

    index: int  #: its place in the file, from 1
    name: str
    prompt: str
    workdir: Path  #: absolute
    mode: str | None  #: None: the configured default
    worktree: bool
    branch: str | None  #: with ``worktree``, its branch (given, or ``<prefix><name>``)
    base: str | None
    after: tuple[str, ...]  #: names of tasks in this file or existing ones
    codex_args: tuple[str, ...]


class _Bad(Exception):
    """A problem with one entry; the caller adds the file and the entry."""


def load(
    path: str | Path,
    exists: Callable[[str], bool] = lambda name: False,
    *,
    branch_prefix: str = "codex/",
) -> list[BatchTask]:
    """Read and check the batch file at ``path``; ``exists(name)`` says if a task is known.

    It must be a regular file of at most :data:`MAX_BATCH_BYTES` bytes of
    UTF-8 (no more than that is ever read).
    """
    where = Path(path).expanduser().absolute()
    try:
        text = _read_file(where, MAX_BATCH_BYTES, "it").decode("utf-8")
    except _Bad as exc:
        raise BadInput(f"batch {path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"batch {path}: cannot read it: {_reason(exc)}") from None
    return parse(text, where, exists, shown=str(path), branch_prefix=branch_prefix)


def parse(
    text: str,
    source: Path,
    exists: Callable[[str], bool] = lambda name: False,
    shown: str | None = None,
    *,
    branch_prefix: str = "codex/",
) -> list[BatchTask]:
    """Check the text of a batch file read from ``source`` (relative paths start at its folder).

    The branch of each ``worktree`` entry (its ``branch``, else
    ``<branch_prefix><name>``) must be unique in the file; whether it exists
    in the repository is for the caller to check.
    """
    label = f"batch {shown or source}"
    try:
        data = parse_toml(text)
    except ValueError as exc:
        raise BadInput(f"{label}: {exc}") from None
    extra = [key for key in data if key != "task"]
    if extra:
        raise BadInput(f"{label}: unknown key {extra[0]!r} (only [[task]] tables belong here)")
    tables = data.get("task")
    if not isinstance(tables, list) or not tables:
        raise BadInput(f"{label}: no [[task]] tables: nothing to start")

    folder = source.parent
    tasks: list[BatchTask] = []
    seen: dict[str, int] = {}
    branches: dict[tuple[Path, str], BatchTask] = {}  # (repository, branch) → its task
    for index, table in enumerate(tables, 1):
        entry = _entry_label(label, index, table.get("name") if isinstance(table, dict) else None)
        try:
            task = _task(index, table, folder, branch_prefix)
            if task.name in seen:
                raise _Bad(f"name {task.name!r} is already task {seen[task.name]}'s")
            if task.branch is not None:
                key = (_repository(task.workdir), task.branch)
                other = branches.setdefault(key, task)
                if other is not task:
                    raise _Bad(
                        f"branch {task.branch!r} is already task {other.index}'s "
                        f'(name "{_printable(other.name)}"): give one of them another "branch"'
                    )
        except (_Bad, TmuxCodexError) as exc:
            raise BadInput(f"{entry}: {exc}") from None
        seen[task.name] = index
        tasks.append(task)

    for task in tasks:
        for name in task.after:
            if name not in seen and not exists(name):
                raise BadInput(
                    f"{_entry_label(label, task.index, task.name)}: after {name!r}: "
                    "no task of that name in this file or already started"
                )
    return _ordered(label, tasks, seen)


def _repository(workdir: Path) -> Path:
    """The git dir its worktrees share: where the branches of ``workdir``'s repository live."""
    common = git.text(workdir, "rev-parse", "--path-format=absolute", "--git-common-dir")
    return Path(common).resolve()


def _entry_label(label: str, index: int, name: object) -> str:
    if isinstance(name, str) and name:
        return f'{label}: task {index} (name "{_printable(name)}")'
    return f"{label}: task {index}"


def _printable(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f-\x9f\"\\]", lambda m: f"\\x{ord(m.group()):02x}", text)


def _task(index: int, table: object, folder: Path, branch_prefix: str) -> BatchTask:
    if not isinstance(table, dict):
        raise _Bad("must be a table")
    unknown = [key for key in table if key not in KEYS]
    if unknown:
        raise _Bad(f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    name = _string(table, "name")
    if name is None:
        raise _Bad('"name" is required')
    _check_name(name)

    prompt = _string(table, "prompt")
    prompt_file = _string(table, "prompt_file")
    if (prompt is None) == (prompt_file is None):
        raise _Bad('give exactly one of "prompt" and "prompt_file"')
    if prompt_file is not None:
        prompt = _read_prompt(folder / Path(prompt_file).expanduser(), prompt_file)
    assert prompt is not None
    _check_prompt(prompt)

    workdir_text = _string(table, "workdir")
    workdir = folder / Path(workdir_text).expanduser() if workdir_text is not None else folder
    if not workdir.is_dir():
        raise _Bad(f"workdir {workdir_text or str(folder)!r} does not exist or is not a directory")
    workdir = workdir.resolve()

    mode = _string(table, "mode")
    if mode is not None and mode not in MODES:
        raise _Bad(f'"mode" must be one of {", ".join(MODES)}, not {mode!r}')

    worktree = table.get("worktree", False)
    if not isinstance(worktree, bool):
        raise _Bad('"worktree" must be true or false')
    branch = _string(table, "branch")
    base = _string(table, "base")
    if not worktree and (branch is not None or base is not None):
        raise _Bad('"branch" and "base" need worktree = true')
    if branch is not None:
        check_branch(branch)
    if worktree:
        git.toplevel(workdir)  # BadInput: not a git repository
        if base is not None and git.resolve(workdir, base) is None:
            raise _Bad(f"base {base!r} is not a commit in {workdir}")
        branch = branch if branch is not None else default_branch(branch_prefix, name)

    return BatchTask(
        index=index,
        name=name,
        prompt=prompt,
        workdir=workdir,
        mode=mode,
        worktree=worktree,
        branch=branch,
        base=base,
        after=_after(table.get("after"), name),
        codex_args=_strings(table, "codex_args"),
    )


def _string(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise _Bad(f'"{key}" must be a string')
    return value


def _strings(table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Bad(f'"{key}" must be a list of strings')
    if any("\0" in item for item in value):
        raise _Bad(f'"{key}" holds a NUL byte')
    return tuple(value)


def _check_name(name: str) -> None:
    """The rule ``start -n`` applies to task names."""
    if re.search(r"[\x00-\x1f\x7f-\x9f]", name):
        raise _Bad(f"invalid name {name!r}: it holds a control character")
    if (
        not name.strip()
        or name.isdigit()
        or name[0] in "@%$-"
        or any(c in name for c in ":.")
        or any(c.isspace() and c != " " for c in name)
    ):
        raise _Bad(
            f"invalid name {name!r}: not empty, not all digits (ids are), not "
            "starting with @ % $ -, and without : . or whitespace other than spaces"
        )


def _check_prompt(prompt: str) -> None:
    """The checks ``start`` makes of a prompt (:func:`tmux_codex.tasks.launch.validate`)."""
    if not prompt.strip():
        raise _Bad("the prompt is empty")
    if len(prompt.encode()) > MAX_PROMPT_BYTES:
        raise _Bad(f"the prompt is longer than {MAX_PROMPT_BYTES} bytes")
    if "\0" in prompt:
        raise _Bad("the prompt contains a NUL byte, which no program can be given")
    if prompt == "-":
        raise _Bad("a prompt of '-' makes codex read standard input")


def _read_prompt(path: Path, given: str) -> str:
    try:
        return _read_file(path, MAX_PROMPT_BYTES, f"prompt_file {given!r}").decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Bad(f"cannot read prompt_file {given!r}: {_reason(exc)}") from None


def _read_file(path: Path, limit: int, what: str) -> bytes:
    """The regular file at ``path``, of at most ``limit`` bytes (``limit + 1`` read at most).

    Opened without blocking (a named pipe with no writer would wait forever)
    and checked to be a regular file before a byte is read: a pipe, a device
    such as /dev/zero or a directory is refused (_Bad "WHAT is not …").
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "a special file")
            raise _Bad(f"{what} is not a regular file but {kind}")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise _Bad(f"{what} is larger than {limit} bytes")
    return b"".join(chunks)


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"not UTF-8 text ({exc.reason} at byte {exc.start})"


def _after(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",")]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        names = [item.strip() for item in value]
    else:
        raise _Bad('"after" must be a task name, or a list of them')
    if any(not part for part in names):
        raise _Bad('"after" holds an empty name')
    if name in names:
        raise _Bad('"after" names the task itself')
    return tuple(dict.fromkeys(names))


def _ordered(label: str, tasks: list[BatchTask], seen: dict[str, int]) -> list[BatchTask]:
    """Tasks with each one's ``after`` tasks first, file order otherwise; BadInput on a cycle."""
    waits = {t.index: {seen[n] for n in t.after if n in seen} for t in tasks}
    blocks: dict[int, list[int]] = {t.index: [] for t in tasks}
    for index, needs in waits.items():
        for need in needs:
            blocks[need].append(index)
    ready = [index for index, needs in waits.items() if not needs]
    heapq.heapify(ready)
    by_index = {t.index: t for t in tasks}
    order: list[BatchTask] = []
    left = {index: len(needs) for index, needs in waits.items()}
    while ready:
        index = heapq.heappop(ready)
        order.append(by_index[index])
        for blocked in blocks[index]:
            left[blocked] -= 1
            if left[blocked] == 0:
                heapq.heappush(ready, blocked)
    if len(order) < len(tasks):
        cycle = _cycle(waits, {index for index, count in left.items() if count})
        names = " → ".join(by_index[i].name for i in cycle)
        raise BadInput(
            f"{_entry_label(label, cycle[0], by_index[cycle[0]].name)}: "
            f'"after" makes a cycle: {names}'
        )
    return order


def _cycle(waits: dict[int, set[int]], stuck: set[int]) -> list[int]:
    """A cycle among the ``stuck`` tasks, as a closed path of indexes from the first in the file.

    Each stuck task waits for another stuck one (else it would have been
    ordered), so following those waits must come back to a task seen before.
    """
    path: list[int] = []
    at = min(stuck)
    while at not in path:
        path.append(at)
        at = min(need for need in waits[at] if need in stuck)
    return [*path[path.index(at) :], at]
