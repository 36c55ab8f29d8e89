"""report on the real Codex: an exec task that wrote a file and ran tests."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.codexbed import CodexEnv, wait_until
from tests.conftest import Cli
from tests.test_monitor import wait_stored, write_config
from tmux_codex.sim import scenarios as sc

pytestmark = pytest.mark.e2e

TEST_FILE = """\
def test_one():
    assert 1 + 1 == 2

def test_two():
    assert "codex"
"""


WRITE = f"open('test_math.py', 'w').write({TEST_FILE!r})"


def _git(work: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def test_report_after_an_exec_task(cli: Cli, codex_env: CodexEnv, tmp_path: Path) -> None:
    notes = tmp_path / "notes.jsonl"
    write_config(cli, tmp_path, f"[notify]\nreport = true\ncommand = 'cat >> {notes}'\n")
    work = codex_env.workdir(git=True)
    (work / "README.md").write_text("hello\n")
    _git(work, "add", ".")
    _git(work, "commit", "-qm", "start")
    prompt = (
        "[scenario:run] write a test and run it\n"
        f"$ {sys.executable} -c {shlex.quote(WRITE)}\n"
        f"$ {sys.executable} -m pytest -q -p no:cacheprovider test_math.py\n"
    )
    task = cli.json("start", "-C", str(work), prompt)
    done = wait_stored(cli, task["id"], "done", "failed")
    assert done["state"] == "done"
    report = cli.json("report", str(task["id"]))
    assert report["state"] == "done" and report["exit_code"] == 0
    assert [(f["path"], f["status"], f["added"]) for f in report["files"]] == [
        ("test_math.py", "untracked", 5)
    ]
    assert [(t["runner"], t["passed"], t["failed"], t["ok"]) for t in report["tests"]] == [
        ("pytest", 2, 0, True)
    ]
    # From Codex's session file, or else from its notify call, which may land late.
    wait_until(
        lambda: cli.json("report", str(task["id"]))["last_message"] == sc.RUN_DONE,
        30,
        what="the last message",
    )
    assert report["tokens"]["total"] > 0
    text = cli.run("report", str(task["id"])).stdout
    assert "test_math.py" in text and "2 passed" in text
    # With [notify] report, the notify command got it when the task ended.
    wait_until(lambda: notes.exists() and b'"report"' in notes.read_bytes(), 30, what="report")
    ended = [json.loads(line) for line in notes.read_text().splitlines()]
    assert ended[-1]["to"] == "done" and ended[-1]["report"]["tests"][0]["passed"] == 2


def test_report_says_why_an_exec_task_failed(cli: Cli, codex_env: CodexEnv) -> None:
    task = cli.json("start", "-C", str(codex_env.workdir()), "[scenario:http-400] go")
    failed = wait_stored(cli, task["id"], "done", "failed")
    assert failed["state"] == "failed"
    message = "The fake model server rejected the request (scenario http-400)."
    report = cli.json("report", str(task["id"]))
    assert report["exit_code"] == 1 and report["error"] == message
    assert report["tokens"] is None  # Codex reported none: the request never went through
    assert f"  error    {message}" in cli.run("report", str(task["id"])).stdout.splitlines()
    # The log's end says so too, read without reading all of it.
    assert "ERROR: " in cli.run("log", str(task["id"]), "--limit", "400").stdout
    raw = Path(failed["log_path"]).read_bytes()
    tail = subprocess.run(
        [sys.executable, "-m", "tmux_codex", "log", str(task["id"]), "--raw", "--limit", "100"],
        env=cli.env,
        capture_output=True,
        check=True,
    ).stdout
    assert tail == raw[-100:]
