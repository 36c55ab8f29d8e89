"""From a slot freeing to the next queued task's window: how long the queue takes.

Usage: ``python bench/queue_latency.py [--runs 30]``

Target: a median of at most 100 ms. A benchmark, not a test: it asserts
nothing about time and exits non-zero only when something fails.

Method: a private tmux server and ``TMUX_CODEX_HOME``, ``[fleet] max_parallel
= 1`` and a fake "codex" that waits forever. One task runs, the next waits
``queued``; ``kill`` of the running one frees the slot. The moment it is free
is the ``killed`` event's time in the store (the monitor learns of it from
the store, like of a task that ended by itself); the moment the next task's
window exists is when ``tmux list-windows`` first shows a window carrying its
id, polled every millisecond or so from here. Each run then queues the next.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _fleet import BenchError, Fleet, compile_package, fleet_env, tmux_codex_cmd

FAKE_CODEX = """#!/bin/sh
[ "$1" = --version ] && { echo "codex-cli 0.169.0"; exit 0; }
printf 'fake codex\\n'
exec sleep 3600
"""


def _event_time(db: Path, task_id: int, state: str) -> float:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT at FROM events WHERE task_id = ? AND to_state = ? ORDER BY id DESC LIMIT 1",
            (task_id, state),
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        raise BenchError(f"task {task_id} has no {state} event")
    stamp = datetime.strptime(row[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def _window_seen(socket: str, task_id: int, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    want = str(task_id)
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["tmux", "-L", socket, "list-windows", "-a", "-F", "#{@tmux-codex-task}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if want in out:
            return time.time()
    raise BenchError(f"task {task_id}'s window never appeared")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    compile_package()
    with tempfile.TemporaryDirectory(prefix="tcx-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        fake = root / "codex"
        fake.write_text(FAKE_CODEX)
        fake.chmod(0o755)
        config = root / "config.toml"
        config.write_text("[fleet]\nmax_parallel = 1\n")
        home = root / "home"
        socket = f"tcx-bench-{os.getpid()}"
        env = fleet_env(home, socket, config, fake)
        fleet = Fleet(tmux_codex_cmd(), env, home, socket)
        latencies: list[float] = []
        try:
            fleet.start_monitor()
            running = int(fleet.cli("start", "--mode", "tui", "-C", tmp, "run 0").split()[0])
            for i in range(1, args.runs + 1):
                waiting = int(fleet.cli("start", "--mode", "tui", "-C", tmp, f"run {i}").split()[0])
                # kill waits for the process to die: poll for the window meanwhile.
                killing = subprocess.Popen(
                    [*fleet.cmd, "kill", str(running)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                seen = _window_seen(socket, waiting)
                if killing.wait(timeout=60) != 0:
                    raise BenchError(f"kill {running} failed")
                freed = _event_time(home / "tasks.db", running, "killed")
                latencies.append((seen - freed) * 1000)
                running = waiting
        finally:
            fleet.cleanup()
    ordered = sorted(latencies)
    print(f"{len(latencies)} runs, {os.cpu_count()} cores")
    print(
        f"  slot freed -> next window: median {statistics.median(ordered):6.1f} ms, "
        f"p90 {ordered[int(len(ordered) * 0.9) - 1]:6.1f} ms, max {ordered[-1]:6.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
