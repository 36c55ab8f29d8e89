"""Batch files: a good one, and each kind of bad one (checked whole, named precisely)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.gitbed import git_home, repo
from tmux_codex.core.errors import BadInput
from tmux_codex.fleet.batch import BatchTask, load, parse

__all__ = ["git_home", "repo"]  # fixtures


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    where = tmp_path / "jobs"
    (where / "svc").mkdir(parents=True)
    (where / "prompts").mkdir()
    (where / "prompts" / "api.md").write_text("Add the /health endpoint.\n")
    return where


def write(folder: Path, text: str) -> Path:
    path = folder / "batch.toml"
    path.write_text(text)
    return path


def test_a_good_batch_file(folder: Path, repo: Path) -> None:
    path = write(
        folder,
        f"""
[[task]]
name = "docs"
prompt = "Document the API"
after = "api, schema"

[[task]]
name = "api"
prompt_file = "prompts/api.md"
workdir = "svc"
mode = "tui"
after = ["schema", "old task"]
codex_args = ["--model", "o4-mini"]

[[task]]
name = "schema"
prompt = "Write the schema"
workdir = "{repo}"
worktree = true
branch = "codex/schema"
base = "main"
""",
    )
    tasks = load(path, exists=lambda name: name == "old task")
    assert [t.name for t in tasks] == ["schema", "api", "docs"]
    schema, api, docs = tasks
    assert schema == BatchTask(
        index=3,
        name="schema",
        prompt="Write the schema",
        workdir=repo.resolve(),
        mode=None,
        worktree=True,
        branch="codex/schema",
        base="main",
        after=(),
        codex_args=(),
    )
    assert api.prompt == "Add the /health endpoint.\n" and api.workdir == (folder / "svc").resolve()
    assert (api.mode, api.after, api.codex_args) == (
        "tui",
        ("schema", "old task"),
        ("--model", "o4-mini"),
    )
    assert docs.workdir == folder.resolve() and docs.after == ("api", "schema")
    assert not docs.worktree and docs.branch is None


def test_order_is_file_order_where_free(folder: Path) -> None:
    entries = "".join(
        f'[[task]]\nname = "{n}"\nprompt = "p"\n' + (f'after = "{a}"\n' if a else "")
        for n, a in [("e", "c"), ("d", ""), ("c", "b"), ("b", ""), ("a", "")]
    )
    assert [t.name for t in load(write(folder, entries))] == ["d", "b", "c", "e", "a"]


BAD = [
    ("task = 3", r"batch FILE: no \[\[task\]\] tables"),
    ("", r"batch FILE: no \[\[task\]\] tables"),
    ("[other]\nx = 1", r"batch FILE: unknown key 'other'"),
    ("[[task]\nname = 'x'", r"batch FILE: invalid TOML: "),
    ('[[task]]\nprompt = "p"', r'batch FILE: task 1: "name" is required'),
    ('[[task]]\nname = 7\nprompt = "p"', r'batch FILE: task 1: "name" must be a string'),
    ('[[task]]\nname = "12"\nprompt = "p"', r'task 1 \(name "12"\): invalid name'),
    ('[[task]]\nname = "a:b"\nprompt = "p"', r'task 1 \(name "a:b"\): invalid name'),
    ('[[task]]\nname = "a\\nb"\nprompt = "p"', r'task 1 \(name "a\\x0ab"\): invalid name'),
    ('[[task]]\nname = "x"\nprompt = "p"\ncolour = "red"', r'task 1 \(name "x"\): unknown key'),
    ('[[task]]\nname = "x"', r'"x"\): give exactly one of "prompt" and "prompt_file"'),
    ('[[task]]\nname = "x"\nprompt = "p"\nprompt_file = "f"', r"exactly one of"),
    ('[[task]]\nname = "x"\nprompt = "  "', r'task 1 \(name "x"\): the prompt is empty'),
    ('[[task]]\nname = "x"\nprompt = ["p"]', r'"prompt" must be a string'),
    ('[[task]]\nname = "x"\nprompt_file = "nope.md"', r"cannot read prompt_file 'nope.md'"),
    ('[[task]]\nname = "x"\nprompt = "p"\nworkdir = "nope"', r"workdir 'nope' does not exist"),
    ('[[task]]\nname = "x"\nprompt = "p"\nworkdir = "prompts/api.md"', r"does not exist or is not"),
    ('[[task]]\nname = "x"\nprompt = "p"\nmode = "gui"', r'"mode" must be one of exec, tui'),
    ('[[task]]\nname = "x"\nprompt = "p"\nworktree = "yes"', r'"worktree" must be true or false'),
    ('[[task]]\nname = "x"\nprompt = "p"\nbranch = "b"', r'"branch" and "base" need worktree'),
    ('[[task]]\nname = "x"\nprompt = "p"\nworktree = true', r"not in a git repository"),
    ('[[task]]\nname = "x"\nprompt = "p"\ncodex_args = "--x"', r'"codex_args" must be a list'),
    ('[[task]]\nname = "x"\nprompt = "p"\ncodex_args = [1]', r'"codex_args" must be a list'),
    ('[[task]]\nname = "x"\nprompt = "p"\nafter = 3', r'"after" must be a task name'),
    ('[[task]]\nname = "x"\nprompt = "p"\nafter = ["y", ""]', r'"after" holds an empty name'),
    ('[[task]]\nname = "x"\nprompt = "p"\nafter = "x"', r'"after" names the task itself'),
    ('[[task]]\nname = "x"\nprompt = "p"\nafter = "ghost"', r"after 'ghost': no task of that"),
    (
        '[[task]]\nname = "x"\nprompt = "p"\n[[task]]\nname = "y"\nprompt = "q"\n'
        '[[task]]\nname = "x"\nprompt = "r"',
        r'batch FILE: task 3 \(name "x"\): name \'x\' is already task 1\'s',
    ),
    (
        '[[task]]\nname = "a"\nprompt = "p"\n[[task]]\nname = "b"\nprompt = "p"\nafter = "c"\n'
        '[[task]]\nname = "c"\nprompt = "p"\nafter = "d"\n'
        '[[task]]\nname = "d"\nprompt = "p"\nafter = ["a", "b"]',
        r'batch FILE: task 2 \(name "b"\): "after" makes a cycle: b → c → d → b$',
    ),
]


@pytest.mark.parametrize(("text", "error"), BAD)
def test_bad_batch_files(folder: Path, text: str, error: str) -> None:
    path = write(folder, text)
    with pytest.raises(BadInput) as caught:
        load(path)
    message = str(caught.value)
    assert re.search(error.replace("FILE", re.escape(str(path))), message), message
    assert "\n" not in message and caught.value.exit_code == 2


def test_worktree_entries_are_checked_against_the_repository(folder: Path, repo: Path) -> None:
    head = f'[[task]]\nname = "x"\nprompt = "p"\nworkdir = "{repo}"\nworktree = true\n'
    with pytest.raises(BadInput, match=r"task 1 \(name \"x\"\): invalid branch name 'a b'"):
        load(write(folder, head + 'branch = "a b"'))
    with pytest.raises(BadInput, match=r"task 1 \(name \"x\"\): base 'nope' is not a commit"):
        load(write(folder, head + 'base = "nope"'))
    assert load(write(folder, head + 'base = "main"'))[0].base == "main"


def test_a_bad_entry_after_good_ones_fails_the_whole_file(folder: Path) -> None:
    good = '[[task]]\nname = "ok"\nprompt = "p"\n'
    with pytest.raises(BadInput, match=r"task 2 \(name \"bad\"\): workdir"):
        load(write(folder, good + '[[task]]\nname = "bad"\nprompt = "p"\nworkdir = "gone"\n'))


def test_unreadable_and_binary_files(folder: Path) -> None:
    with pytest.raises(BadInput, match=r"batch .*missing\.toml: cannot read it"):
        load(folder / "missing.toml")
    (folder / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(BadInput, match="cannot read it"):
        load(folder / "bin.toml")
    with pytest.raises(BadInput, match="nest too deeply"):
        parse("x = " + "[" * 100_000, folder / "deep.toml")
