"""Real git repositories for the fleet tests: an isolated HOME, a repository, helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tmux_codex.fleet.worktrees import Worktree, create


def g(cwd: Path, *args: str) -> str:
    """Run git in a test (the code under test uses tmux_codex.core.git)."""
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def commit_all(cwd: Path, message: str) -> str:
    g(cwd, "add", "-A")
    g(cwd, "commit", "-q", "-m", message)
    return g(cwd, "rev-parse", "HEAD")


def snapshot(repo: Path, *checkouts: Path) -> tuple[str, ...]:
    """Every ref and every checkout's HEAD and status: what "nothing changed" compares."""
    refs = g(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    return (
        refs,
        *(g(c, "rev-parse", "HEAD") + g(c, "status", "--porcelain", "-uall") for c in checkouts),
    )


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    (home / ".gitconfig").write_text("[user]\n\tname = Tester\n\temail = tester@example.com\n")
    return home


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    top = tmp_path / "repo"
    top.mkdir()
    g(top, "init", "-q", "-b", "main")
    (top / "shared.txt").write_text("one\ntwo\nthree\n")
    (top / ".gitignore").write_text("*.log\n")
    commit_all(top, "start")
    return top


def make(repo: Path, name: str, base: str | None = None) -> Worktree:
    """A worktree ``wts/NAME`` next to the repository, on branch ``codex/NAME``."""
    return create(repo, repo.parent / "wts" / name, f"codex/{name}", base)
