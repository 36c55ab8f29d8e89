"""Worktrees, diffs and merges on real git repositories (no mocks)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.gitbed import commit_all, g, git_home, make, repo, snapshot
from tmux_codex.core import git
from tmux_codex.core.errors import BadInput, NotPossible
from tmux_codex.fleet.merge import merge
from tmux_codex.fleet.worktrees import (
    Worktree,
    branch_exists,
    checkouts,
    create,
    remove,
    state,
)
from tmux_codex.report import diff as rdiff
from tmux_codex.report.changes import FileChange

__all__ = ["git_home", "repo"]  # fixtures


def test_git_version_and_merge_tree() -> None:
    version = git.git_version()
    assert version >= (2, 0, 0)
    assert git.has_merge_tree() == (version[:2] >= (2, 38))
    git.require_merge_tree()


def test_three_worktrees_never_see_each_other(repo: Path) -> None:
    trees = [make(repo, f"t{i}") for i in range(3)]
    start = g(repo, "rev-parse", "HEAD")
    for i, wt in enumerate(trees):
        assert wt.repo == repo.resolve() and wt.path.is_dir()
        assert (wt.branch, wt.base, wt.base_commit) == (f"codex/t{i}", "main", start)
        assert g(wt.path, "symbolic-ref", "--short", "HEAD") == wt.branch
        (wt.path / f"own{i}.txt").write_text(f"task {i}\n")
    for i, wt in enumerate(trees):
        own = sorted(p.name for p in wt.path.glob("own*.txt"))
        assert own == [f"own{i}.txt"]
        assert state(wt).status.untracked == (f"own{i}.txt",)
    assert g(repo, "status", "--porcelain") == ""
    assert json.loads(json.dumps(trees[0].to_json()))["base"] == "main"
    assert Worktree.from_json(trees[0].to_json()) == trees[0]


def test_create_from_a_detached_head_bases_on_the_commit(repo: Path) -> None:
    head = g(repo, "rev-parse", "HEAD")
    g(repo, "checkout", "-q", "--detach")
    wt = make(repo, "d")
    assert (wt.base, wt.base_commit) == (head, head)
    with pytest.raises(NotPossible, match="not a local branch"):
        merge(wt)


def test_create_refuses_bad_input(repo: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(BadInput, match="not in a git repository"):
        create(plain, tmp_path / "w", "codex/x")
    with pytest.raises(BadInput, match="does not exist"):
        create(tmp_path / "missing", tmp_path / "w", "codex/x")
    make(repo, "x")
    with pytest.raises(BadInput, match="branch 'codex/x' already exists"):
        create(repo, tmp_path / "w2", "codex/x")
    with pytest.raises(BadInput, match="base 'nope' is not a commit"):
        create(repo, tmp_path / "w3", "codex/y", "nope")
    with pytest.raises(BadInput, match="base '--all' is not a commit"):
        create(repo, tmp_path / "w3", "codex/y", "--all")
    full = tmp_path / "full"
    full.mkdir()
    (full / "f").write_text("x")
    with pytest.raises(BadInput, match="not an empty directory"):
        create(repo, full, "codex/z")
    assert git.branch_commit(repo, "codex/y") is None and git.branch_commit(repo, "codex/z") is None
    empty = tmp_path / "empty"
    empty.mkdir()
    g(empty, "init", "-q")
    with pytest.raises(BadInput, match="no commit yet"):
        create(empty, tmp_path / "w4", "codex/e")


def test_a_second_create_of_a_branch_leaves_the_first_alone(repo: Path, tmp_path: Path) -> None:
    first = make(repo, "same")  # its branch points at the base: the sha a loser would name
    before = snapshot(repo, repo, first.path)
    for base in (None, "main", first.branch):
        with pytest.raises(BadInput, match="branch 'codex/same' already exists"):
            create(repo, tmp_path / "second", first.branch, base)
    assert snapshot(repo, repo, first.path) == before and not (tmp_path / "second").exists()
    assert git.branch_commit(repo, first.branch) == first.base_commit


def test_concurrent_creates_of_one_branch_leave_exactly_one(repo: Path, tmp_path: Path) -> None:
    n = 8
    ready = threading.Barrier(n)

    def attempt(i: int) -> Worktree | Exception:
        ready.wait()
        try:
            return create(repo, tmp_path / f"race{i}", "codex/race")
        except (BadInput, NotPossible) as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(attempt, range(n)))
    made = [r for r in results if isinstance(r, Worktree)]
    assert len(made) == 1, results
    winner = made[0]
    assert git.branch_commit(repo, "codex/race") == winner.base_commit
    assert g(winner.path, "symbolic-ref", "--short", "HEAD") == "codex/race"
    assert checkouts(repo)["codex/race"] == [winner.path]
    assert g(repo, "worktree", "list", "--porcelain").count("worktree ") == 2
    assert [p for p in tmp_path.glob("race*") if p != winner.path] == []
    assert g(repo, "for-each-ref", "--format=%(refname)", "refs/heads/") == (
        "refs/heads/codex/race\nrefs/heads/main"
    )
    remove(winner, purge=True)  # and it is an ordinary worktree
    assert not branch_exists(repo, "codex/race")


def test_branch_exists_takes_the_name_exactly(repo: Path, tmp_path: Path) -> None:
    assert branch_exists(repo, "main") and branch_exists(repo / ".", "main")
    assert not branch_exists(repo, "nope")
    g(repo, "update-ref", "refs/tags/refs/heads/ghost", "HEAD")  # rev-parse would find it
    assert not branch_exists(repo, "ghost") and git.branch_commit(repo, "ghost") is None
    g(repo, "branch", "codex/b")
    assert branch_exists(make(repo, "w").path, "codex/b")  # from a worktree too
    with pytest.raises(BadInput, match="branch name"):
        branch_exists(repo, "a b")
    with pytest.raises(NotPossible, match="cannot look up branch 'main'"):
        branch_exists(tmp_path / "home", "main")


@pytest.mark.parametrize(
    "name",
    ["", " ", "a b", "a..b", "-x", "--force", "x\n", "x\x1b[2J", "$(touch pwned)", "`touch pwned`",
     "@{-1}", "HEAD", "refs/heads/x", "x.lock", "x~1", "a:b", "a?b", "a*b", "a[b", "a\\b", "x/"],
)  # fmt: skip
def test_hostile_branch_names_fail_cleanly(repo: Path, name: str) -> None:
    before = snapshot(repo, repo)
    with pytest.raises(BadInput, match="branch name"):
        create(repo, repo.parent / "hostile", name)
    assert snapshot(repo, repo) == before
    assert not (repo.parent / "hostile").exists() and not list(repo.parent.rglob("pwned"))


@pytest.mark.parametrize("name", ["$(id)", ";touch${IFS}pwned", "codex/ünï", "a'b\"c"])
def test_odd_but_valid_branch_names_are_taken_literally(repo: Path, name: str) -> None:
    wt = create(repo, repo.parent / "odd", name)
    assert g(repo, "for-each-ref", "--format=%(refname)", "refs/heads/").splitlines()[0] == (
        f"refs/heads/{name}"
    )
    assert wt.branch == name and not list(repo.parent.rglob("pwned"))
    assert remove(wt, purge=True).merged and git.branch_commit(repo, name) is None


def test_state_and_remove_protect_work(repo: Path) -> None:
    wt = make(repo, "w")
    assert not state(wt).holds_work
    (wt.path / "staged.txt").write_text("s\n")
    g(wt.path, "add", "staged.txt")
    (wt.path / "shared.txt").write_text("changed\n")
    (wt.path / "new.txt").write_text("n\n")
    (wt.path / "junk.log").write_text("ignored\n")
    held = state(wt)
    assert held.status.staged == ("staged.txt",)
    assert held.status.unstaged == ("shared.txt",)
    assert held.status.untracked == ("new.txt",)
    assert held.describe() == (
        "3 uncommitted files (1 staged, 1 unstaged, 1 untracked: 'new.txt', 'shared.txt', "
        "'staged.txt')"
    )
    with pytest.raises(NotPossible, match=r"holds 3 uncommitted files .*--force to discard"):
        remove(wt)
    commit_all(wt.path, "work")
    held = state(wt)
    assert not held.uncommitted and held.unmerged and len(held.ahead) == 1
    assert held.describe() == "1 unmerged commit"
    with pytest.raises(NotPossible, match="1 unmerged commit: merge it first, or --force"):
        remove(wt, purge=True)
    assert wt.path.is_dir() and git.branch_commit(repo, wt.branch) == held.branch_commit
    discarded = remove(wt, force=True)
    assert discarded.unmerged and not wt.path.exists()
    assert git.branch_commit(repo, wt.branch) == held.branch_commit  # kept without purge
    assert g(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_remove_force_purge_discards_and_plain_purge_after_merge(repo: Path) -> None:
    lost = make(repo, "lost")
    (lost.path / "x.txt").write_text("x\n")
    commit_all(lost.path, "x")
    (lost.path / "y.txt").write_text("y\n")
    remove(lost, force=True, purge=True)
    assert not lost.path.exists() and git.branch_commit(repo, lost.branch) is None
    kept = make(repo, "kept")
    (kept.path / "k.txt").write_text("k\n")
    merge(kept, task="kept")
    assert state(kept).merged and not state(kept).holds_work
    remove(kept, purge=True)
    assert git.branch_commit(repo, kept.branch) is None and (repo / "k.txt").exists()


def test_remove_a_worktree_whose_folder_is_gone(repo: Path) -> None:
    wt = make(repo, "gone")
    subprocess.run(["rm", "-rf", str(wt.path)], check=True)
    remove(wt, purge=True)
    assert "gone" not in g(repo, "worktree", "list") and git.branch_commit(repo, wt.branch) is None


# -- diff --------------------------------------------------------------------------------


def four_kinds(top: Path) -> None:
    """A commit, a staged, an unstaged and an untracked change, and an ignored file."""
    (top / "committed.txt").write_text("c1\nc2\n")
    commit_all(top, "committed")
    (top / "staged.txt").write_text("s\n")
    g(top, "add", "staged.txt")
    (top / "shared.txt").write_text("one\nTWO\nthree\n")
    (top / "untracked.txt").write_text("u1\nu2\nu3\n")
    (top / "skip.log").write_text("ignored\n")


def check_four_kinds(d: rdiff.Diff) -> None:
    def rows(
        changes: tuple[FileChange, ...],
    ) -> list[tuple[str, str, int | None, int | None]]:
        return [(c.path, c.status, c.added, c.removed) for c in changes]

    assert d.commits == 1 and d.live
    assert rows(d.committed) == [("committed.txt", "added", 2, 0)]
    assert rows(d.staged) == [("staged.txt", "added", 1, 0)]
    assert rows(d.unstaged) == [("shared.txt", "modified", 1, 1)]
    assert rows(d.untracked) == [("untracked.txt", "untracked", 3, 0)]
    assert [c.path for c in d.files] == sorted(
        ["committed.txt", "staged.txt", "shared.txt", "untracked.txt"]
    )
    data = json.loads(json.dumps(rdiff.to_json(d)))
    assert data["totals"] == {"files": 4, "added": 7, "removed": 1}
    stat = rdiff.render(d, stat=True).decode()
    assert (
        "untracked.txt | 3 +++" in stat
        and "4 files changed, 7 insertions(+), 1 deletion(-)" in stat
    )
    assert "\x1b[" not in stat and "\x1b[" in rdiff.render(d, stat=True, color=True).decode()
    patch = rdiff.render(d).decode()
    assert "+++ b/untracked.txt" in patch and "+TWO" in patch and "skip.log" not in patch


def test_diff_of_a_worktree_task(repo: Path) -> None:
    wt = make(repo, "d")
    index = Path(g(wt.path, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    four_kinds(wt.path)
    status = g(wt.path, "status", "--porcelain")  # (refreshes the index first)
    before = index.read_bytes()
    check_four_kinds(rdiff.changes(wt.path, wt.base_commit, wt.branch))
    assert index.read_bytes() == before and g(wt.path, "status", "--porcelain") == status
    # From the repository (the branch checked out elsewhere): its commits only.
    other = rdiff.changes(repo, wt.base_commit, wt.branch)
    assert not other.live and [c.path for c in other.files] == ["committed.txt"]
    assert "committed.txt" in rdiff.render(other, stat=True).decode()


def test_diff_of_a_plain_workdir(repo: Path) -> None:
    start = g(repo, "rev-parse", "HEAD")
    four_kinds(repo)
    check_four_kinds(rdiff.changes(repo / "", start))
    with pytest.raises(NotPossible, match="no longer in"):
        rdiff.changes(repo, "0" * 40)
    with pytest.raises(BadInput, match="not in a git repository"):
        rdiff.changes(repo.parent / "home", start)


def test_diff_since_before_the_first_commit(tmp_path: Path) -> None:
    top = tmp_path / "fresh"
    top.mkdir()
    g(top, "init", "-q")
    (top / "a b.txt").write_text("x\n")
    (top / "ünï.txt").write_text("y\n")
    d = rdiff.changes(top, None)
    assert [(c.path, c.status) for c in d.files] == [
        ("a b.txt", "untracked"),
        ("ünï.txt", "untracked"),
    ]
    assert (
        d.head is None
        and d.commits == 0
        and "2 files changed" in rdiff.render(d, stat=True).decode()
    )


def test_diff_stat_of_a_big_file_is_small(repo: Path, tmp_path: Path) -> None:
    start = g(repo, "rev-parse", "HEAD")
    with (repo / "big.txt").open("w") as fh:
        for i in range(400_000):
            fh.write(f"line {i}\n")
    d = rdiff.changes(repo, start)
    assert d.untracked[0].added == 400_000
    assert len(rdiff.render(d, stat=True)) < 200
    with (tmp_path / "patch").open("wb") as out:
        rdiff.render_to(d, out)
    assert (tmp_path / "patch").stat().st_size > 4_000_000


def test_odd_paths_and_a_hostile_environment(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    g(decoy, "init", "-q")
    monkeypatch.setenv("GIT_DIR", str(decoy / ".git"))  # as inside a git hook
    monkeypatch.setenv("GIT_INDEX_FILE", str(decoy / ".git" / "index"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.quotepath'='true'")
    wt = create(repo, tmp_path / "we ird\nname ü", "codex/odd")
    assert wt.path.name == "we ird\nname ü"
    (wt.path / "tab\there.txt").write_text("x\n")
    assert state(wt).status.untracked == ("tab\there.txt",)
    d = rdiff.changes(wt.path, wt.base_commit, wt.branch)
    assert [c.path for c in d.untracked] == ["tab\there.txt"]
    assert checkouts(repo)["codex/odd"] == [wt.path]
    remove(wt, force=True, purge=True)
    assert not wt.path.exists() and not (decoy / ".git" / "index").exists()


def test_purge_keeps_a_branch_checked_out_elsewhere(repo: Path, tmp_path: Path) -> None:
    wt = make(repo, "twice")
    g(repo, "worktree", "add", "-q", "--force", str(tmp_path / "again"), wt.branch)
    before = snapshot(repo, repo, wt.path)
    with pytest.raises(NotPossible, match=r"codex/twice is also checked out at .*again"):
        remove(wt, purge=True)
    assert snapshot(repo, repo, wt.path) == before
    remove(wt)  # without purge: the branch stays for the other checkout
    assert not wt.path.exists() and git.branch_commit(repo, wt.branch) is not None


def test_remove_keeps_commits_made_on_a_detached_head(repo: Path) -> None:
    wt = make(repo, "det")
    g(wt.path, "switch", "-q", "--detach")
    for i in range(2):
        (wt.path / f"d{i}.txt").write_text(f"{i}\n")
        commit_all(wt.path, f"detached {i}")
    held = state(wt)
    assert held.detached == 2 and not held.ahead and held.holds_work
    assert held.describe() == "2 commits on a detached HEAD"
    before = snapshot(repo, repo, wt.path)
    with pytest.raises(NotPossible, match="holds 2 commits on a detached HEAD: merge it first"):
        remove(wt, purge=True)
    assert snapshot(repo, repo, wt.path) == before
    g(repo, "tag", "keep", g(wt.path, "rev-parse", "HEAD"))  # reachable from a tag: safe
    assert state(wt).detached == 0 and not state(wt).holds_work
    g(repo, "tag", "-d", "keep")
    remove(wt, force=True, purge=True)
    assert not wt.path.exists()


def _stop_a_rebase(wt: Worktree) -> None:
    g(wt.path, "-c", "sequence.editor=echo break >", "rebase", "-q", "-i", "HEAD")


def _stop_a_merge(wt: Worktree) -> None:
    g(wt.path, "commit", "-q", "--allow-empty", "-m", "side")
    g(wt.path, "branch", "side")
    g(wt.path, "reset", "-q", "--hard", "HEAD~1")
    g(wt.path, "merge", "-q", "--no-ff", "--no-commit", "side")


def _stop_a_cherry_pick(wt: Worktree) -> None:
    _conflicting(wt, "cherry-pick")


def _stop_a_revert(wt: Worktree) -> None:
    _conflicting(wt, "revert")


def _conflicting(wt: Worktree, command: str) -> None:
    """A commit on ``side`` that conflicts with the worktree's branch, then ``command`` of it."""
    g(wt.path, "switch", "-q", "-c", "side")
    (wt.path / "shared.txt").write_text("side\n")
    commit_all(wt.path, "side")
    if command == "revert":
        (wt.path / "shared.txt").write_text("side again\n")
        commit_all(wt.path, "side again")
        target = "side~1"
    else:
        target = "side"
    g(wt.path, "switch", "-q", "codex/op")
    (wt.path / "shared.txt").write_text("mine\n")
    commit_all(wt.path, "mine")
    if command == "revert":
        g(wt.path, "reset", "-q", "--hard", "side")
    stopped = subprocess.run(["git", "-C", str(wt.path), command, target], capture_output=True)
    assert stopped.returncode != 0, stopped.stdout


@pytest.mark.parametrize(
    ("stop", "what"),
    [
        (_stop_a_rebase, "a rebase"),
        (_stop_a_merge, "a merge"),
        (_stop_a_cherry_pick, "a cherry-pick"),
        (_stop_a_revert, "a revert"),
    ],
)
def test_remove_keeps_an_operation_stopped_halfway(
    repo: Path, stop: Callable[[Worktree], None], what: str
) -> None:
    wt = make(repo, "op")
    stop(wt)
    held = state(wt)
    assert held.in_progress == what and held.holds_work
    assert f"{what} in progress" in held.describe()
    before = snapshot(repo, repo)
    with pytest.raises(NotPossible, match=f"holds .*{what} in progress: merge it first"):
        remove(wt)
    assert snapshot(repo, repo) == before and wt.path.is_dir()
    remove(wt, force=True)
    assert not wt.path.exists()


def test_a_rebase_stopped_on_a_clean_tree_is_the_only_thing_held(repo: Path) -> None:
    wt = make(repo, "op")
    _stop_a_rebase(wt)
    held = state(wt)
    assert (held.uncommitted, held.unmerged, held.detached, held.nested) == (False, False, 0, ())
    assert held.describe() == "a rebase in progress"
