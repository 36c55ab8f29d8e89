"""Merging a worktree task's branch into its base, on real git repositories (no mocks)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.gitbed import commit_all, g, git_home, make, repo, snapshot
from tmux_codex.core import git
from tmux_codex.core.errors import NotPossible
from tmux_codex.fleet.merge import merge
from tmux_codex.fleet.worktrees import remove, state

__all__ = ["git_home", "repo"]  # fixtures


def test_merge_one_then_a_conflicting_one_changes_nothing(repo: Path) -> None:
    first, second, third = make(repo, "first"), make(repo, "second"), make(repo, "third")
    (first.path / "shared.txt").write_text("one\nFIRST\nthree\n")  # uncommitted
    (first.path / "first.txt").write_text("f\n")  # untracked
    done = merge(first, task="first")
    assert done.kind == "fast-forward" and done.checkout == repo.resolve()
    assert done.work_commit == done.new_base == g(repo, "rev-parse", "main")
    assert g(repo, "log", "-1", "--format=%s", "main") == (
        "first: uncommitted work (committed by tmux-codex merge)"
    )
    assert (repo / "first.txt").read_text() == "f\n" and "FIRST" in (
        repo / "shared.txt"
    ).read_text()
    assert g(repo, "status", "--porcelain") == "" and g(first.path, "status", "--porcelain") == ""
    assert state(first).merged and not state(first).holds_work

    (second.path / "shared.txt").write_text("one\nSECOND\nthree\n")
    commit_all(second.path, "second edits shared")
    (second.path / "more.txt").write_text("uncommitted\n")
    before = snapshot(repo, repo, first.path, second.path, third.path)
    with pytest.raises(NotPossible, match=r"would conflict in shared\.txt: nothing was changed"):
        merge(second, task="second")
    assert snapshot(repo, repo, first.path, second.path, third.path) == before

    (third.path / "third.txt").write_text("t\n")
    commit_all(third.path, "third")
    done = merge(third, task="third")
    assert done.kind == "merge" and done.work_commit is None
    parents = g(repo, "rev-list", "--parents", "-1", "main").split()[1:]
    assert parents == [done.old_base, git.branch_commit(repo, third.branch)]
    assert g(repo, "log", "-1", "--format=%s", "main") == (
        "Merge branch 'codex/third' into main (tmux-codex task third)"
    )
    assert (repo / "third.txt").exists() and g(repo, "status", "--porcelain") == ""


def test_merge_refuses_a_dirty_base_checkout(repo: Path) -> None:
    wt = make(repo, "w")
    (wt.path / "w.txt").write_text("w\n")
    (repo / "shared.txt").write_text("local edit\n")
    before = snapshot(repo, repo, wt.path)
    with pytest.raises(NotPossible, match=r"checkout of main at .* uncommitted changes \(shared"):
        merge(wt)
    assert snapshot(repo, repo, wt.path) == before
    (repo / "shared.txt").write_text("one\ntwo\nthree\n")
    (repo / "w.txt").write_text("in the way\n")  # untracked where the merge puts a file
    before = snapshot(repo, repo, wt.path)
    with pytest.raises(NotPossible, match=r"untracked files the merge would overwrite \(w\.txt\)"):
        merge(wt)
    assert snapshot(repo, repo, wt.path) == before
    (repo / "w.txt").unlink()
    (repo / "elsewhere.txt").write_text("untracked, not in the way\n")
    assert merge(wt).kind == "fast-forward" and (repo / "w.txt").read_text() == "w\n"


def test_squash_makes_one_commit_and_counts_as_merged(repo: Path) -> None:
    wt = make(repo, "sq")
    for i in range(3):
        (wt.path / f"s{i}.txt").write_text(f"{i}\n")
        commit_all(wt.path, f"step {i}")
    (repo / "base.txt").write_text("base moved on\n")
    old = commit_all(repo, "base moves")
    done = merge(wt, squash=True, task="sq")
    assert done.kind == "squash"
    assert g(repo, "rev-list", "--parents", "-1", "main").split()[1:] == [old]
    message = g(repo, "log", "-1", "--format=%B", "main")
    assert message.startswith("sq: squashed from codex/sq") and "* step 2" in message
    assert sorted(p.name for p in repo.glob("s?.txt")) == ["s0.txt", "s1.txt", "s2.txt"]
    held = state(wt)
    assert len(held.ahead) == 3 and held.merged and not held.holds_work
    assert merge(wt, squash=True).kind == "up-to-date"
    remove(wt, purge=True)  # merged by content: no --force needed
    assert git.branch_commit(repo, wt.branch) is None


def test_squash_with_a_message(repo: Path) -> None:
    wt = make(repo, "m")
    (wt.path / "m.txt").write_text("m\n")
    merge(wt, squash=True, message="Add m")
    assert g(repo, "log", "-1", "--format=%B", "main") == "Add m"


def test_base_checked_out_nowhere_moves_by_update_ref(repo: Path) -> None:
    wt = make(repo, "nb")
    g(repo, "switch", "-q", "-c", "elsewhere")
    (repo / "shared.txt").write_text("dirty, but not main's checkout\n")
    (wt.path / "nb.txt").write_text("nb\n")
    commit_all(wt.path, "nb")
    g(repo, "commit", "-q", "--allow-empty", "-m", "elsewhere")  # not on main
    old = g(repo, "rev-parse", "main")
    done = merge(wt, task="nb")
    assert done.kind == "fast-forward" and done.checkout is None
    assert g(repo, "rev-parse", "main") == git.branch_commit(repo, wt.branch) != old
    assert g(repo, "symbolic-ref", "--short", "HEAD") == "elsewhere"
    assert not (repo / "nb.txt").exists()  # the checkout of another branch is untouched
    assert "main@{0}: tmux-codex: merge codex/nb" in g(repo, "reflog", "-1", "main")
    # and a merge commit where main moved on meanwhile
    other = make(repo, "nb2", base="main")
    (other.path / "nb2.txt").write_text("x\n")
    commit_all(other.path, "nb2")
    moved = g(repo, "commit-tree", "-p", "main", "-m", "moved", g(repo, "rev-parse", "main^{tree}"))
    g(repo, "update-ref", "refs/heads/main", moved)
    assert merge(other).kind == "merge"
    assert g(repo, "ls-tree", "--name-only", "main", "nb2.txt") == "nb2.txt"


def test_fallback_identity_where_none_is_configured(repo: Path, git_home: Path) -> None:
    wt = make(repo, "anon")
    (git_home / ".gitconfig").write_text("")
    (repo / "base.txt").write_text("b\n")
    g(repo, "-c", "user.name=X", "-c", "user.email=x@x", "add", "base.txt")
    g(repo, "-c", "user.name=X", "-c", "user.email=x@x", "commit", "-q", "-m", "base")
    (wt.path / "anon.txt").write_text("a\n")  # uncommitted: merge commits it
    assert git.identity(repo) == [
        "-c",
        "user.name=tmux-codex",
        "-c",
        "user.email=tmux-codex@localhost",
    ]
    done = merge(wt, task="anon")
    assert done.kind == "merge" and done.work_commit is not None
    fallback = "tmux-codex <tmux-codex@localhost>"
    for made in ("main", done.work_commit):
        assert (
            g(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", made) == f"{fallback}|{fallback}"
        )


def test_merge_refusals(repo: Path) -> None:
    wt = make(repo, "r")
    (wt.path / "r.txt").write_text("r\n")
    g(wt.path, "switch", "-q", "-c", "side")
    before = snapshot(repo, repo, wt.path)
    with pytest.raises(NotPossible, match="has refs/heads/side checked out, not codex/r"):
        merge(wt)
    assert snapshot(repo, repo, wt.path) == before
    g(wt.path, "switch", "-q", "codex/r")
    g(repo, "tag", "v1")
    commit_all(wt.path, "r")
    tagged = wt.__class__(wt.repo, wt.path, wt.branch, "v1", wt.base_commit)
    with pytest.raises(NotPossible, match="'v1', not a local branch"):
        merge(tagged)
    assert merge(make(repo, "empty")).kind == "up-to-date"


def test_merge_refuses_a_base_being_rebased(repo: Path) -> None:
    wt = make(repo, "rb")
    (wt.path / "rb.txt").write_text("rb\n")
    g(repo, "switch", "-q", "-c", "up")
    (repo / "shared.txt").write_text("up\n")
    commit_all(repo, "up")
    g(repo, "switch", "-q", "main")
    (repo / "shared.txt").write_text("main\n")
    commit_all(repo, "main")
    stopped = subprocess.run(["git", "-C", str(repo), "rebase", "up"], capture_output=True)
    assert stopped.returncode != 0  # a conflict: main's checkout is detached mid-rebase
    before = snapshot(repo, repo, wt.path)
    with pytest.raises(NotPossible, match=r"main is being rebased at .*: finish or abort"):
        merge(wt)
    assert snapshot(repo, repo, wt.path) == before


def test_merge_refuses_a_base_checked_out_twice(repo: Path, tmp_path: Path) -> None:
    wt = make(repo, "two")
    (wt.path / "two.txt").write_text("2\n")
    g(repo, "worktree", "add", "-q", "--force", str(tmp_path / "main-again"), "main")
    before = snapshot(repo, repo, wt.path, tmp_path / "main-again")
    with pytest.raises(NotPossible, match="main is checked out in 2 worktrees"):
        merge(wt)
    assert snapshot(repo, repo, wt.path, tmp_path / "main-again") == before


def _hook(folder: Path, name: str, marker: Path) -> None:
    hook = folder / ".hooks" / name
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f'#!/bin/sh\necho "{name} $PWD" >> "{marker}"\n')
    hook.chmod(0o755)


def test_no_hook_of_the_repository_ever_runs(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "hooks-ran"
    quiet = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")  # the test's own
    g(repo, "config", "core.hooksPath", ".hooks")  # husky-style: hooks in the tree
    g(repo, "config", "core.fsmonitor", str(tmp_path / "fsmonitor-hook"))
    (tmp_path / "fsmonitor-hook").write_text(f'#!/bin/sh\necho fsmonitor >> "{marker}"\n')
    (tmp_path / "fsmonitor-hook").chmod(0o755)
    wt = make(repo, "hooks")
    for name in ("post-merge", "post-checkout", "reference-transaction"):
        _hook(wt.path, name, marker)
    (wt.path / "shared.txt").write_text("one\nhooked\nthree\n")  # uncommitted: a work commit
    assert merge(wt, task="hooks").kind == "fast-forward"
    assert (repo / ".hooks" / "post-merge").exists()  # main's checkout has them now
    other = make(repo, "after")  # a checkout with the hooks in it
    assert (other.path / ".hooks" / "post-checkout").exists()
    (other.path / "x.txt").write_text("x\n")
    g(other.path, *quiet, "add", "x.txt")
    g(other.path, *quiet, "commit", "-q", "-m", "x")
    g(repo, *quiet, "commit", "-q", "--allow-empty", "-m", "main moves on")
    assert merge(other).kind == "merge"
    assert state(other).merged
    remove(other, purge=True)
    remove(wt, purge=True)
    assert not marker.exists()
    g(repo, "switch", "-q", "-c", "proof")  # plain git runs them: the test is live
    g(repo, "status", "--porcelain")
    assert "post-checkout" in marker.read_text() and "fsmonitor" in marker.read_text()


def test_an_uncommitted_change_the_index_thinks_clean_is_merged(repo: Path) -> None:
    """Same size, same mtime as its index entry, and the index no older: racily clean."""
    wt = make(repo, "racy")
    g(wt.path, "config", "core.trustctime", "false")
    then = 1_600_000_000
    target = wt.path / "shared.txt"
    os.utime(target, (then, then))
    g(wt.path, "update-index", "--refresh")
    target.write_text("one\nTWO\nthree\n")  # the size of "one\ntwo\nthree\n"
    os.utime(target, (then, then))
    index = Path(g(wt.path, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    os.utime(index, (then, then))  # git reads the entry's content to know
    assert g(wt.path, "--no-optional-locks", "status", "--porcelain") == "M shared.txt"
    done = merge(wt, task="racy")
    assert done.kind == "fast-forward" and done.work_commit is not None
    assert g(repo, "show", "main:shared.txt") == "one\nTWO\nthree"


def test_a_nested_repository_is_never_merged_as_a_bare_gitlink(repo: Path) -> None:
    wt = make(repo, "nest")
    (wt.path / "own.txt").write_text("own\n")
    g(wt.path, "init", "-q", "lib")
    (wt.path / "lib" / "code.py").write_text("x = 1\n")
    commit_all(wt.path / "lib", "lib's own history")
    before = snapshot(repo, repo, wt.path)
    refusal = r"lib is a git repository of its own inside the worktree .*nothing was changed"
    with pytest.raises(NotPossible, match=refusal):
        merge(wt)
    assert snapshot(repo, repo, wt.path) == before
    held = state(wt)
    assert held.nested == ("lib",) and held.holds_work
    assert "a git repository of its own ('lib')" in held.describe()
    with pytest.raises(NotPossible, match=r"a git repository of its own \('lib'\)"):
        remove(wt)
    # Committed as a gitlink on the branch: still refused, still held.
    commit_all(wt.path, "adds lib as a gitlink")
    assert g(wt.path, "ls-tree", "HEAD", "lib").startswith("160000 commit")
    before = snapshot(repo, repo, wt.path)
    with pytest.raises(NotPossible, match=refusal):
        merge(wt, squash=True)
    assert snapshot(repo, repo, wt.path) == before
    assert state(wt).nested == ("lib",)
    remove(wt, force=True, purge=True)
    assert not wt.path.exists() and g(repo, "ls-tree", "main", "lib") == ""


def test_a_nested_repository_without_a_commit_and_two_of_them(repo: Path) -> None:
    wt = make(repo, "empty-nest")
    g(wt.path, "init", "-q", "a")
    g(wt.path, "init", "-q", "deep/b")
    (wt.path / "deep" / "c.txt").write_text("c\n")
    before = snapshot(repo, repo, wt.path)
    with pytest.raises(NotPossible, match=r"^a, deep/b are git repositories inside the worktree"):
        merge(wt)
    assert snapshot(repo, repo, wt.path) == before
    assert state(wt).nested == ("a", "deep/b")


def test_a_gitlink_the_base_has_already_merges(repo: Path) -> None:
    g(repo, "init", "-q", "sub")
    (repo / "sub" / "s.txt").write_text("s\n")
    commit_all(repo / "sub", "sub")
    commit_all(repo, "a gitlink on main")  # (an embedded repository, as git warns)
    wt = make(repo, "with-sub")
    assert not (wt.path / "sub" / ".git").exists()  # not populated in the worktree
    (wt.path / "w.txt").write_text("w\n")
    held = state(wt)
    assert held.nested == () and held.describe().startswith("1 uncommitted file")
    assert merge(wt).kind == "fast-forward"
    assert g(repo, "ls-tree", "main", "sub").startswith("160000 commit")
