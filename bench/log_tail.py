"""``tmux-codex log --limit 2000`` and ``report`` on a 300 MB log: time and memory.

Usage: ``python bench/log_tail.py [--mb 300] [--runs 5] [--kind replay|hung|both] [--full]``

Writes a log of real Codex TUI bytes from the captured Codex 0.169.0 TUI
(``tests/fixtures/codex-0.169.0/tui-hang-headers/raw.log``, 15 KB: its start,
then a spinner redrawn in place) grown to ``--mb``:

- ``replay``: the capture played again and again, as a TUI restarted on the
  same screen would draw it;
- ``hung``: the capture's start once, then its spinner frames again and
  again: a TUI that drew no new line for hours (about 100 KB a minute).

A finished TUI task in a private ``TMUX_CODEX_HOME`` owns the log (its workdir
a small git repository, Codex's session file beside it), and each command runs
``--runs`` times as a subprocess; wall time and peak RSS (``os.wait4``) are
printed. ``--full`` also times ``log`` without ``--limit`` (all 300 MB
rendered, streamed: slow, flat memory). Targets: ``log --limit 2000`` within
0.5 s and 50 MB, ``report`` within 1 s and 80 MB. A benchmark, not a test:
it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fleet import ROOT, compile_package, tmux_codex_cmd

sys.path.insert(0, str(ROOT))

from tmux_codex.core.store import Store

CAPTURE = ROOT / "tests" / "fixtures" / "codex-0.169.0" / "tui-hang-headers" / "raw.log"
ROLLOUT = ROOT / "tests" / "fixtures" / "test-output" / "rollout-tui-tests.jsonl"
SESSION = "01a20cc5-2270-70d0-8a29-e36ef88ef14b"  # the rollout's session
ROLLOUT_NAME = f"sessions/2026/11/24/rollout-2026-11-24T08-56-15-{SESSION}.jsonl"
TARGETS = {"log --limit 2000": (0.5, 50.0), "report": (1.0, 80.0)}


def write_log(path: Path, kind: str, size: int) -> int:
    """Write the log; returns how many times the repeated part is in it."""
    raw = CAPTURE.read_bytes()
    # The frames after the capture's last clear of the live area only redraw it in place.
    first = raw.index(b"\x1b[?2026h", raw.index(b"\x1b[?2026l", raw.rindex(b"\x1b[J")))
    head, part = (b"", raw) if kind == "replay" else (raw[:first], raw[first:])
    times = max(1, (size - len(head)) // len(part))
    block = part * max(1, (8 << 20) // len(part))
    with open(path, "wb") as fh:
        fh.write(head)
        left = times
        while left > 0:
            count = min(left, (8 << 20) // len(part) or 1)
            fh.write(block if count * len(part) == len(block) else part * count)
            left -= count
    return times


def make_task(home: Path, log: Path) -> int:
    """A finished TUI task owning ``log``, in a git workdir, with its Codex session file."""
    work = home.parent / "work"
    work.mkdir()
    git = ["git", "-C", str(work), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q"], check=True)
    (work / "README.md").write_text("bench\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "start"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    (work / "new.txt").write_text("changed\n")
    codex_home = home.parent / "codex-home"
    (codex_home / ROLLOUT_NAME).parent.mkdir(parents=True)
    shutil.copy(ROLLOUT, codex_home / ROLLOUT_NAME)
    with Store(home) as store:
        task = store.add_task(
            {
                "state": "done",
                "mode": "tui",
                "workdir": str(work),
                "argv": ["codex"],
                "log_path": str(log),
                "exit_code": 0,
                "width": 120,
                "height": 40,
                "codex_home": str(codex_home),
                "codex_session_id": SESSION,
                "start_commit": head.stdout.strip(),
                "last_message": "Still waiting for the model.",
            },
            "hung",
            "hung",
        )
    return task.id


def measure(cmd: list[str], env: dict[str, str], out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run of ``cmd``; its stdout goes to ``out``."""
    with open(out, "wb") as sink, tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=errors)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed: {errors.read().decode()}")
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


def run_kind(kind: str, args: argparse.Namespace, root: Path) -> None:
    home = root / kind / "home"
    home.mkdir(parents=True)
    os.chmod(home, 0o700)
    log = home / "hung.log"
    started = time.perf_counter()
    times = write_log(log, kind, args.mb << 20)
    size = log.stat().st_size
    task = make_task(home, log)
    env = {
        **os.environ,
        "TMUX_CODEX_HOME": str(home),
        "TMUX_CODEX_CONFIG": str(root / "none.toml"),
        "TMUX_CODEX_SOCKET": f"tcx-bench-{os.getpid()}",
    }
    for var in ("TMUX", "TMUX_PANE", "PYTHONDONTWRITEBYTECODE", "TMUX_CODEX_DEBUG"):
        env.pop(var, None)
    what = "the capture played" if kind == "replay" else "its start, then its spinner frames"
    print(
        f"\n{kind}: a {size / (1 << 20):.0f} MB log ({what} {times:,} times), "
        f"written in {time.perf_counter() - started:.1f} s; TUI task, 120x40"
    )
    cmd = tmux_codex_cmd()
    commands = [
        ("tmux-codex --version", [*cmd, "--version"]),
        ("log --limit 2000", [*cmd, "log", str(task), "--limit", "2000"]),
        ("report", [*cmd, "report", str(task), "--json"]),
    ]
    out = root / kind / "out.txt"
    for name, argv in commands:
        walls, rss = [], []
        for _ in range(args.runs):
            wall, peak = measure(argv, env, out)
            walls.append(wall)
            rss.append(peak)
        target = TARGETS.get(name)
        goal = f"   (target {target[0]} s, {target[1]:.0f} MB)" if target else ""
        print(
            f"  {name:22} median {statistics.median(walls):6.3f} s  max {max(walls):6.3f} s"
            f"  peak RSS {max(rss):6.1f} MB{goal}"
        )
        if name == "log --limit 2000":
            shown = out.read_text(encoding="utf-8").splitlines()
            print("    its last lines:", *(f"      {line}" for line in shown[-3:]), sep="\n")
    if args.full:
        wall, peak = measure([*cmd, "log", str(task)], env, out)
        print(
            f"  {'log (all of it)':22} {wall:6.1f} s  peak RSS {peak:6.1f} MB"
            f"  ({out.stat().st_size / 1024:.0f} KB of text)"
        )
    shutil.rmtree(root / kind)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="size of the log")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kind", choices=("replay", "hung", "both"), default="both")
    parser.add_argument("--full", action="store_true", help="also time 'log' without --limit")
    args = parser.parse_args()
    compile_package()
    print(f"{os.cpu_count()} cores; {args.runs} runs of each command")
    with tempfile.TemporaryDirectory(prefix="tcx-bench-") as tmp:
        for kind in ("replay", "hung") if args.kind == "both" else (args.kind,):
            run_kind(kind, args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
