"""Batch files: a good one, and each kind of bad one (checked whole, named precisely)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.gitbed import g, git_home, repo
from tmux_codex.core.errors import BadInput
from tmux_codex.fleet.batch import MAX_BATCH_BYTES, BatchTask, load, parse
from tmux_codex.tasks.launch import MAX_PROMPT_BYTES

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
    ('[[task]]\nname = "x"\nprompt = "-"', r"task 1 \(name \"x\"\): a prompt of '-' makes codex"),
    (
        '[[task]]\nname = "x"\nprompt = "a\\u0000b"',
        r'task 1 \(name "x"\): the prompt contains a NUL',
    ),
    (
        f'[[task]]\nname = "x"\nprompt = "{"é" * (MAX_PROMPT_BYTES // 2 + 1)}"',
        rf'task 1 \(name "x"\): the prompt is longer than {MAX_PROMPT_BYTES} bytes$',
    ),
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
    with pytest.raises(BadInput, match="nests arrays or tables too deeply"):
        parse("x = " + "[" * 100_000, folder / "deep.toml")


def test_a_worktree_entry_gets_its_branch_and_no_two_share_one(folder: Path, repo: Path) -> None:
    def entry(name: str, extra: str = "", where: Path = repo) -> str:
        head = f'[[task]]\nname = "{name}"\nprompt = "p"\nworkdir = "{where}"\n'
        return head + "worktree = true\n" + extra

    a, b = load(write(folder, entry("a") + entry("b", 'branch = "mine"')))
    assert (a.branch, b.branch) == ("codex/a", "mine")
    assert load(write(folder, entry("a")), branch_prefix="team/")[0].branch == "team/a"
    plain = load(write(folder, '[[task]]\nname = "p"\nprompt = "p"\n'))[0]
    assert plain.branch is None
    clash = entry("a") + entry("b") + entry("c", 'branch = "codex/a"')
    with pytest.raises(BadInput) as caught:
        load(write(folder, clash))
    assert str(caught.value) == (
        f"batch {folder / 'batch.toml'}: task 3 (name \"c\"): branch 'codex/a' is already "
        'task 1\'s (name "a"): give one of them another "branch"'
    )
    prefixed = entry("a") + entry("b", 'branch = "team/a"')
    assert len(load(write(folder, prefixed))) == 2  # codex/a and team/a
    with pytest.raises(BadInput, match=r"task 2 \(name \"b\"\): branch 'team/a' is already task 1"):
        load(write(folder, prefixed), branch_prefix="team/")
    # Another repository may have a branch of the same name; a worktree of this one may not.
    other = folder / "other"
    other.mkdir()
    g(other, "init", "-q", "-b", "main")
    g(other, "commit", "-q", "--allow-empty", "-m", "start")
    assert len(load(write(folder, entry("a") + entry("b", 'branch = "codex/a"', other)))) == 2
    linked = folder / "linked"
    g(repo, "worktree", "add", "-q", "--detach", str(linked))
    with pytest.raises(BadInput, match=r"task 2 \(name \"b\"\): branch 'codex/a' is already"):
        load(write(folder, entry("a") + entry("b", 'branch = "codex/a"', linked)))


@pytest.mark.parametrize(
    ("special_file", "kind"),
    [
        (lambda p: os.mkfifo(p), "a named pipe"),
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: p.symlink_to("/dev/zero"), "a character device"),
    ],
)
def test_prompt_files_and_batch_files_must_be_regular_files(
    folder: Path, special_file: Callable[[Path], object], kind: str
) -> None:
    special = folder / "special"
    special_file(special)  # a pipe with no writer: opening it must not wait for one
    with pytest.raises(BadInput) as caught:
        load(write(folder, '[[task]]\nname = "x"\nprompt_file = "special"\n'))
    assert str(caught.value) == (
        f"batch {folder / 'batch.toml'}: task 1 (name \"x\"): prompt_file 'special' is not a "
        f"regular file but {kind}"
    )
    with pytest.raises(BadInput) as caught:
        load(special)
    assert str(caught.value) == f"batch {special}: it is not a regular file but {kind}"


def test_dev_zero_and_oversized_files_are_read_no_further(folder: Path) -> None:
    with pytest.raises(BadInput, match=r"prompt_file '/dev/zero' is not a regular file but a "):
        load(write(folder, '[[task]]\nname = "x"\nprompt_file = "/dev/zero"\n'))
    with pytest.raises(BadInput, match=r"^batch /dev/zero: it is not a regular file but a char"):
        load("/dev/zero")
    prompts = folder / "prompts"
    (prompts / "max.md").write_bytes(b"x" * MAX_PROMPT_BYTES)
    (prompts / "over.md").write_bytes(b"x" * (MAX_PROMPT_BYTES + 1))
    (prompts / "huge.md").write_bytes(b"x" * (8 << 20))
    (prompts / "dash.md").write_bytes(b"-")
    (prompts / "nul.md").write_bytes(b"a\0b")
    (prompts / "latin1.md").write_bytes(b"caf\xe9\n")
    one = '[[task]]\nname = "x"\nprompt_file = "prompts/{}"\n'
    assert load(write(folder, one.format("max.md")))[0].prompt == "x" * MAX_PROMPT_BYTES
    for name, error in [
        ("over.md", rf"prompt_file 'prompts/over.md' is larger than {MAX_PROMPT_BYTES} bytes$"),
        ("huge.md", rf"prompt_file 'prompts/huge.md' is larger than {MAX_PROMPT_BYTES} bytes$"),
        ("dash.md", r"a prompt of '-' makes codex read standard input"),
        ("nul.md", r"the prompt contains a NUL byte"),
        ("latin1.md", r"cannot read prompt_file 'prompts/latin1.md': not UTF-8 text"),
    ]:
        with pytest.raises(BadInput, match=r'task 1 \(name "x"\): ' + error) as caught:
            load(write(folder, one.format(name)))
        assert "\n" not in str(caught.value)
    big = folder / "big.toml"
    big.write_text('[[task]]\nname = "x"\nprompt = "p"\n' + "#" * MAX_BATCH_BYTES + "\n")
    with pytest.raises(BadInput, match=rf"^batch {re.escape(str(big))}: it is larger than "):
        load(big)
