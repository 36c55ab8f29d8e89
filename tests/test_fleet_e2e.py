"""A fleet on the real Codex: worktrees, diff, merge, rm, the queue, batch files, tokens.

Real tmux (a private server per test), the pinned Codex against the fake
model server, real git repositories.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli
from tmux_codex.core.store import Store
from tmux_codex.tasks import queue

pytestmark = pytest.mark.e2e

GIT_ID = ("-c", "user.name=Tester", "-c", "user.email=tester@example.com")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_ID, "-C", str(cwd), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_repo(codex_env: CodexEnv, name: str = "repo") -> Path:
    repo = codex_env.workdir(name)
    git(repo, "init", "-q", "-b", "main")
    (repo / "shared.txt").write_text("one\ntwo\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def snapshot(repo: Path) -> tuple[str, str, str]:
    return (
        git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain", "-uall"),
    )


def run_prompt(*commands: str) -> str:
    """A prompt for the fake model's ``run`` scenario: each ``$ command`` is run by Codex."""
    return "[scenario:run] please\n" + "\n".join(f"$ {c}" for c in commands)


def write_config(cli: Cli, text: str) -> None:
    Path(cli.env["TMUX_CODEX_CONFIG"]).write_text(text)


def live_at_most(events: list[dict[str, Any]], limit: int) -> int:
    """The most tasks that ran at once, from the events in the order they were written."""
    running: set[int] = set()
    most = 0
    holding = {"starting", "working", "waiting", "idle", "stalled"}
    for event in events:
        if event["to"] in holding:
            running.add(event["task"])
        else:
            running.discard(event["task"])
        most = max(most, len(running))
    return most


def test_three_worktree_tasks_in_parallel_diff_and_merge(cli: Cli, codex_env: CodexEnv) -> None:
    repo = make_repo(codex_env)
    ids = []
    for n in (1, 2, 3):
        started = cli.json(
            "start", "--worktree", "-C", str(repo), "-n", f"w{n}",
            run_prompt(f"echo {n} > file{n}.txt"),
        )  # fmt: skip
        wt = started["worktree"]
        assert wt["branch"] == f"codex/w{n}" and wt["base"] == "main"
        assert started["workdir"] == wt["path"] and Path(wt["path"]).is_dir()
        assert wt["repo"] == str(repo.resolve())
        ids.append(started["id"])
    for task_id in ids:
        assert cli.wait_state(task_id, "done", "failed", timeout=90)["state"] == "done"
    paths = [Path(cli.task(i)["workdir"]) for i in ids]
    for n, path in enumerate(paths, start=1):
        own = sorted(p.name for p in path.glob("file*.txt"))
        assert own == [f"file{n}.txt"], f"worktree {n} sees {own}"
    assert not list(repo.glob("file*.txt")), "the repository's own checkout was written to"

    diff = cli.json("diff", "w1")
    assert [f["path"] for f in diff["files"]] == ["file1.txt"]
    assert diff["totals"]["added"] == 1
    stat = cli.run("diff", "w1", "--stat").stdout
    assert "file1.txt" in stat and "\x1b[" not in stat
    patch = cli.run("diff", "w1").stdout
    assert "+1" in patch and "b/file1.txt" in patch

    before = git(repo, "rev-parse", "HEAD")
    cli.run("merge", "w1")
    assert (repo / "file1.txt").read_text() == "1\n"
    assert git(repo, "rev-parse", "HEAD") != before
    events = cli.json_lines("events", "--task", "w1", "--json")
    assert any("merged codex/w1 into main" in (e["detail"] or "") for e in events)
    cli.run("merge", "w2", "--squash", "--message", "two, squashed")
    assert git(repo, "log", "-1", "--format=%s") == "two, squashed"
    assert (repo / "file2.txt").exists()


def test_a_conflicting_merge_changes_nothing(cli: Cli, codex_env: CodexEnv) -> None:
    repo = make_repo(codex_env)
    for name, text in (("left", "left"), ("right", "right")):
        cli.run(
            "start", "--worktree", "-C", str(repo), "-n", name,
            run_prompt(f"echo {text} > shared.txt"),
        )  # fmt: skip
    for name in ("left", "right"):
        assert cli.wait_state(name, "done", "failed", timeout=90)["state"] == "done"
    cli.run("merge", "left")
    before = snapshot(repo)
    refused = cli.run("merge", "right", check=False)
    assert refused.returncode == 1
    assert "shared.txt" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert snapshot(repo) == before
    assert (repo / "shared.txt").read_text() == "left\n"


def test_rm_keeps_unmerged_work_unless_forced(cli: Cli, codex_env: CodexEnv) -> None:
    repo = make_repo(codex_env)
    task = cli.json(
        "start", "--worktree", "-C", str(repo), "-n", "keep", run_prompt("echo kept > kept.txt")
    )
    cli.wait_state("keep", "done", "failed", timeout=90)
    path = Path(task["worktree"]["path"])
    refused = cli.run("rm", "keep", check=False)
    assert refused.returncode == 1
    assert "--force" in refused.stderr and "kept.txt" in refused.stderr
    assert (path / "kept.txt").exists() and cli.task("keep")["state"] == "done"
    cli.run("rm", "keep", "--force", "--purge")
    assert not path.exists()
    assert "codex/keep" not in git(repo, "branch", "--list")
    assert cli.run("show", "keep", check=False).returncode == 1


def test_worktree_bad_input(cli: Cli, codex_env: CodexEnv) -> None:
    plain = codex_env.workdir("plain")
    repo = make_repo(codex_env)
    git(repo, "branch", "codex/taken")
    for argv, says in (
        (["-C", str(plain)], "not in a git repository"),
        (["-C", str(repo), "-n", "taken"], "already exists"),
        (["-C", str(repo), "--branch", "bad name"], "invalid branch name"),
        (["-C", str(repo), "--base", "no-such-ref"], "is not a commit"),
    ):
        done = cli.run("start", "--worktree", *argv, "[scenario:complete] x", check=False)
        assert done.returncode == 2, (argv, done.stderr)
        assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    branch_only = cli.run("start", "-C", str(repo), "--branch", "x", "hi", check=False)
    assert branch_only.returncode == 2 and "--worktree" in branch_only.stderr
    assert cli.json("list", "--all") == []
    assert git(repo, "worktree", "list").count("\n") == 0  # only the repository's own


def test_max_parallel_two_with_five_tasks(cli: Cli, codex_env: CodexEnv) -> None:
    write_config(cli, "[fleet]\nmax_parallel = 2\n")
    work = codex_env.workdir()
    # Each task's command waits for the test to say go: what runs and what waits
    # is then known when it is looked at.
    gate = "while [ ! -e go ]; do sleep 0.05; done"
    started = [
        cli.json("start", "-C", str(work), "-n", f"q{i}", run_prompt(gate, f"echo {i} >> ran.txt"))
        for i in range(5)
    ]
    ids = [t["id"] for t in started]
    assert [t["state"] for t in started] == ["starting"] * 2 + ["queued"] * 3
    assert {t["reason"] for t in started[2:]} == {"slot"}
    listed = {t["id"]: t["state"] for t in cli.json("list")}
    assert [listed[i] for i in ids[2:]] == ["queued"] * 3
    (work / "go").touch()
    for task_id in ids:
        assert cli.wait_state(task_id, "done", "failed", timeout=120)["state"] == "done"
    events = cli.json_lines("events", "--json")
    assert live_at_most(events, 2) <= 2
    order = [e["task"] for e in events if e["to"] == "starting"]
    assert order == ids, "queued tasks start oldest first"
    assert sum(1 for e in events if e["by"] == "queue" and e["to"] == "starting") == 3
    assert sorted((work / "ran.txt").read_text().split()) == ["0", "1", "2", "3", "4"]


def test_after_chain_and_a_failed_dependency(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    a = cli.json("start", "-C", str(work), "-n", "a", run_prompt("echo a >> order.txt"))
    b = cli.json(
        "start", "-C", str(work), "-n", "b", "--after", "a", run_prompt("echo b >> order.txt")
    )
    c = cli.json(
        "start", "-C", str(work), "-n", "c", "--after", "b,a", run_prompt("echo c >> order.txt")
    )
    assert (b["state"], b["reason"], b["after"]) == ("queued", "after", [a["id"]])
    assert c["after"] == [b["id"], a["id"]]
    assert cli.wait_state("c", "done", "failed", timeout=120)["state"] == "done"
    assert (work / "order.txt").read_text() == "a\nb\nc\n"

    # A dependency that ends otherwise: what waits for it fails, naming it, never started.
    hang = cli.json("start", "--mode", "tui", "-C", str(work), "-n", "hang", "[scenario:hang] x")
    after = cli.json("start", "-C", str(work), "-n", "after-hang", "--after", "hang", "x")
    chained = cli.json("start", "-C", str(work), "-n", "chained", "--after", "after-hang", "y")
    cli.run("kill", "hang")
    failed = cli.wait_state("after-hang", "failed", timeout=60)
    assert f"task {hang['id']} (hang)" in failed["error"] and failed["window_id"] is None
    assert "killed" in failed["error"]
    assert cli.wait_state(chained["id"], "failed", timeout=60)["window_id"] is None
    assert after["state"] == "queued"
    # Now it can never start: refused at once.
    refused = cli.run("start", "-C", str(work), "--after", "hang", "z", check=False)
    assert refused.returncode == 1 and "hang" in refused.stderr
    unknown = cli.run("start", "-C", str(work), "--after", "nobody", "z", check=False)
    assert unknown.returncode == 2


def test_kill_and_rm_take_tasks_out_of_the_queue(cli: Cli, codex_env: CodexEnv) -> None:
    write_config(cli, "[fleet]\nmax_parallel = 1\n")
    work = codex_env.workdir()
    cli.run("start", "--mode", "tui", "-C", str(work), "-n", "holder", "[scenario:hang] x")
    killed = cli.json("start", "-C", str(work), "-n", "out1", "x")
    removed = cli.json("start", "-C", str(work), "-n", "out2", "y")
    assert killed["state"] == removed["state"] == "queued"
    nope = cli.run("start", "-C", str(work), "--no-monitor", "z", check=False)
    assert nope.returncode == 2 and "monitor" in nope.stderr
    cli.run("kill", "out1")
    assert cli.task("out1")["state"] == "killed"
    cli.run("rm", "out2")
    assert cli.run("show", "out2", check=False).returncode == 1
    cli.run("kill", "holder")
    assert cli.task("out1")["window_id"] is None


def test_the_monitor_killed_with_tasks_queued(cli: Cli, codex_env: CodexEnv) -> None:
    write_config(cli, "[fleet]\nmax_parallel = 1\n")
    work = codex_env.workdir()
    first = cli.json("start", "--mode", "tui", "-C", str(work), "-n", "one", "[scenario:hang] x")
    queued = [
        cli.json("start", "-C", str(work), "-n", f"next{i}", run_prompt(f"echo {i} >> ran.txt"))
        for i in range(2)
    ]
    assert [t["state"] for t in queued] == ["queued", "queued"]
    monitor = cli.json("monitor", "--status")
    os.kill(int(monitor["pid"]), signal.SIGKILL)
    wait_until(
        lambda: cli.run("monitor", "--status", check=False).returncode == 1, 30, what="death"
    )
    # Claimed by a monitor that died before it opened the window: started once all the same.
    with Store(cli.home) as store:
        store.set_state(first["id"], "killed", by="test")
        claimed = queue.claim(store, 1).started
    assert [t.id for t in claimed] == [queued[0]["id"]]
    cli.run("monitor", "--detach")
    for task in queued:
        assert cli.wait_state(task["id"], "done", "failed", timeout=120)["state"] == "done"
    assert sorted((work / "ran.txt").read_text().split()) == ["0", "1"]
    events = cli.json_lines("events", "--json")
    for task in queued:
        starts = [e for e in events if e["task"] == task["id"] and e["to"] == "starting"]
        assert len(starts) == 1, starts


def test_batch_files(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    repo = make_repo(codex_env)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'[[task]]\nname = "x"\nprompt = "hi"\nworkdir = "{repo}"\nafter = ["y"]\n'
        f'[[task]]\nname = "y"\nprompt = "hi"\nworkdir = "{repo}"\nafter = ["x"]\n'
    )
    refused = cli.run("batch", str(bad), check=False)
    assert refused.returncode == 2 and "cycle" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert cli.json("list", "--all") == []
    (tmp_path / "second.md").write_text(run_prompt("echo two > two.txt"))
    good = tmp_path / "fleet.toml"
    good.write_text(
        "[[task]]\n"
        'name = "one"\n'
        f"prompt = {json.dumps(run_prompt('echo one > one.txt'))}\n"
        f'workdir = "{repo}"\nworktree = true\n'
        "[[task]]\n"
        'name = "two"\nprompt_file = "second.md"\n'
        f'workdir = "{repo}"\nworktree = true\nafter = ["one"]\n'
    )
    started = json.loads(cli.run("batch", str(good), "--json").stdout)
    assert [t["name"] for t in started] == ["one", "two"]
    assert started[1]["state"] == "queued" and started[1]["after"] == [started[0]["id"]]
    for task in started:
        assert cli.wait_state(task["id"], "done", "failed", timeout=120)["state"] == "done"
    assert (Path(cli.task("two")["workdir"]) / "two.txt").exists()
    ids = cli.run("batch", str(good), check=False)
    assert ids.returncode == 2 and "exists" in ids.stderr  # the names are taken now


def test_tokens_of_an_exec_and_a_tui_task(cli: Cli, codex_env: CodexEnv) -> None:
    work = codex_env.workdir()
    cli.run("start", "-C", str(work), "-n", "ex", "[scenario:complete] count me")
    cli.run("start", "--mode", "tui", "-C", str(work), "-n", "tu", "[scenario:complete] me too")
    cli.wait_state("ex", "done", "failed", timeout=90)
    cli.wait_state("tu", "idle", timeout=90)
    wait_until(lambda: cli.task("tu")["tokens"] is not None, 30, what="the TUI's tokens")
    for name in ("ex", "tu"):
        tokens = cli.task(name)["tokens"]
        assert tokens is not None and tokens["total"] >= 1280, (name, tokens)
        assert tokens["input"] + tokens["output"] == tokens["total"]
    listed = {t["name"]: t["tokens"] for t in cli.json("list", "--all")}
    assert listed["ex"]["total"] >= 1280
    status = json.loads(cli.run("status", "--format", "json").stdout)
    assert status["tokens"]["total"] >= 2560


def test_a_tui_worktree_task_is_trusted_and_resumes_in_its_worktree(
    cli: Cli, codex_env: CodexEnv
) -> None:
    repo = codex_env.workdir("untrusted", trusted=False)  # Codex would ask to trust it
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a")
    task = cli.json(
        "start", "--mode", "tui", "--worktree", "-C", str(repo), "-n", "tt",
        "[scenario:complete] hello",
    )  # fmt: skip
    assert cli.wait_state("tt", "idle", "waiting", timeout=90)["state"] == "idle"
    events = cli.json_lines("events", "--task", "tt", "--json")
    assert not [e for e in events if e["reason"] == "trust"], events
    cli.run("kill", "tt")
    resumed = cli.run("resume", "tt", "[scenario:complete] again")
    assert resumed.returncode == 0
    again = cli.wait_state("tt", "idle", timeout=90)
    assert again["workdir"] == task["workdir"] == task["worktree"]["path"]
    assert again["attempt"] == 2


def test_doctor_checks_git(cli: Cli) -> None:
    out = cli.run("doctor", check=False).stdout
    assert any(line.split()[:2] == ["ok", "git"] for line in out.splitlines()), out
