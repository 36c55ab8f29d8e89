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

Every problem is a BadInput naming the file and the entry
(``batch FILE: task 3 (name "x"): …``); the entries come back ordered so
that each one's ``after`` tasks come first, in file order otherwise.
"""

from __future__ import annotations

import heapq
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmux_codex.core import git
from tmux_codex.core.errors import BadInput, TmuxCodexError
from tmux_codex.core.models import MODES
from tmux_codex.fleet.worktrees import check_branch

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

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
#: A prompt file larger than this is refused (a prompt is an argv element).
MAX_PROMPT_FILE = 1 << 20


@dataclass(frozen=True)
class BatchTask:
    """One checked ``[[task]]`` entry."""

    index: int  #: its place in the file, from 1
    name: str
    prompt: str
    workdir: Path  #: absolute
    mode: str | None  #: None: the configured default
    worktree: bool
    branch: str | None
    base: str | None
    after: tuple[str, ...]  #: names of tasks in this file or existing ones
    codex_args: tuple[str, ...]


class _Bad(Exception):
    """A problem with one entry; the caller adds the file and the entry."""


def load(path: str | Path, exists: Callable[[str], bool] = lambda name: False) -> list[BatchTask]:
    """Read and check the batch file at ``path``; ``exists(name)`` says if a task is known."""
    where = Path(path).expanduser().absolute()
    try:
        text = where.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadInput(f"batch {path}: cannot read it: {reason}") from None
    return parse(text, where, exists, shown=str(path))


def parse(
    text: str,
    source: Path,
    exists: Callable[[str], bool] = lambda name: False,
    shown: str | None = None,
) -> list[BatchTask]:
    """Check the text of a batch file read from ``source`` (relative paths start at its folder)."""
    label = f"batch {shown or source}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{label}: invalid TOML: {exc}") from None
    except RecursionError:
        raise BadInput(f"{label}: arrays or tables nest too deeply") from None
    extra = [key for key in data if key != "task"]
    if extra:
        raise BadInput(f"{label}: unknown key {extra[0]!r} (only [[task]] tables belong here)")
    tables = data.get("task")
    if not isinstance(tables, list) or not tables:
        raise BadInput(f"{label}: no [[task]] tables: nothing to start")

    folder = source.parent
    tasks: list[BatchTask] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables, 1):
        entry = _entry_label(label, index, table.get("name") if isinstance(table, dict) else None)
        try:
            task = _task(index, table, folder)
            if task.name in seen:
                raise _Bad(f"name {task.name!r} is already task {seen[task.name]}'s")
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


def _entry_label(label: str, index: int, name: object) -> str:
    if isinstance(name, str) and name:
        return f'{label}: task {index} (name "{_printable(name)}")'
    return f"{label}: task {index}"


def _printable(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f-\x9f\"\\]", lambda m: f"\\x{ord(m.group()):02x}", text)


def _task(index: int, table: object, folder: Path) -> BatchTask:
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
    if not prompt.strip():
        raise _Bad("the prompt is empty")
    if "\0" in prompt:
        raise _Bad("the prompt contains a NUL byte")

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


def _read_prompt(path: Path, given: str) -> str:
    try:
        if path.stat().st_size > MAX_PROMPT_FILE:
            raise _Bad(f"prompt_file {given!r} is larger than {MAX_PROMPT_FILE} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _Bad(f"cannot read prompt_file {given!r}: {reason}") from None


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
