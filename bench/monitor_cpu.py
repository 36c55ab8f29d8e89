"""The monitor's CPU with 50 tasks each printing 10 lines a second, for a minute.

Usage: ``python bench/monitor_cpu.py [--tasks 50] [--rate 10] [--seconds 60]
[--settle 3] [--count-looks]``

Target: under 5% of one core for the monitor process. A benchmark, not a
test: it asserts nothing about time and exits non-zero only when something
fails (a task that never gets to ``working``, a monitor that does not start).

Method: a private tmux server and a temporary ``TMUX_CODEX_HOME``; the
monitor started first (``monitor --detach``), then the tasks with ``start
--mode tui --no-monitor`` whose "codex" (``TMUX_CODEX_CODEX``) is a small fake
that prints Codex's working escape (``ESC]7501;state=working``) and a spinner
title, then lines of varied words at the rate, forever, like an agent
streaming its work. Once the store says every task is ``working`` (and
``--settle`` seconds more), the monitor's CPU time (utime + stime from
``/proc/PID/stat``) is read before and after ``--seconds`` and shown as a
percentage of one core, split into its main thread (the loop that reads
the logs and looks) and its other threads (watchdog's inotify reader and
dispatcher); so are the CPU of the tmux clients it ran (its reaped children:
cutime + cstime), the tmux server's CPU, how busy the whole machine was, and
how many lines the tasks really printed (counted in their logs).

``--count-looks`` runs the same monitor through a small wrapper that reports
how many captures ("looks") it made (``Monitor.looks``, logged on SIGUSR1).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from _fleet import BenchError, Fleet, compile_package, fleet_env, tmux_codex_cmd

FAKE_CODEX = """
import os, random, time

rate = float(os.environ.get("TCX_BENCH_RATE", "10"))
words = (
    "reading parser module tests failing fixture config update refactor function "
    "import schema migration query index cache request handler response token "
    "stream buffer render layout widget signal thread queue worker retry timeout "
    "patch diff commit branch merge lint format type check coverage build deploy"
).split()
rng = random.Random(os.getpid())
os.write(1, "\\033]7501;state=working:app=codex\\033\\\\".encode())
os.write(1, "\\033]0;\\u280b Fake | project\\007".encode())
tick = time.monotonic()
n = 0
while True:
    n += 1
    line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
    os.write(1, f"\\u2022 {n} {line}\\n".encode())
    tick += 1 / rate
    time.sleep(max(tick - time.monotonic(), 0))
"""


@dataclass(frozen=True)
class Cpu:
    """A process's CPU seconds: its own, and its reaped children's."""

    own: float
    children: float


def cpu_of(pid: int) -> Cpu:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    # After "(comm)": state is field 3, so utime (14) .. cstime (17) are [11:15].
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return Cpu((utime + stime) / tick, (cutime + cstime) / tick)


def main_thread_cpu(pid: int) -> float:
    """CPU seconds of a process's main thread (the rest is its other threads')."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, which is counted in user already
    return total - idle, total


class Bench(Fleet):
    """The fleet, and what this benchmark reads of it."""

    def states(self) -> Counter[str]:
        db = sqlite3.connect(f"file:{self.home / 'tasks.db'}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT state, reason FROM tasks").fetchall()
        finally:
            db.close()
        return Counter(f"{s}:{r}" if r else str(s) for s, r in rows)

    def tmux_server_pid(self) -> int | None:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, "display", "-p", "#{pid}"],
            capture_output=True,
            text=True,
            check=False,
        )
        out = proc.stdout.strip()
        return int(out) if out.isdigit() else None

    def log_sizes(self) -> dict[Path, int]:
        return {path: path.stat().st_size for path in (self.home / "logs").glob("*.log")}


def lines_written(before: dict[Path, int], after: dict[Path, int]) -> tuple[int, int]:
    """(lines, bytes) the tasks printed between two sets of log sizes."""
    lines = total = 0
    for path, size in after.items():
        start = before.get(path, 0)
        with path.open("rb") as fh:
            fh.seek(start)
            data = fh.read(size - start)
        lines += data.count(b"\n")
        total += len(data)
    return lines, total


def run(bench: Bench, args: argparse.Namespace, work: Path) -> int:
    pid = bench.start_monitor()
    started = time.monotonic()
    for i in range(args.tasks):
        bench.cli("start", "--mode", "tui", "--no-monitor", "-C", str(work), f"task {i}")
    deadline = time.monotonic() + 120
    while True:
        states = bench.states()
        if states["working"] == args.tasks:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"not every task got to working in 120s: {dict(states)}")
        time.sleep(0.2)
    ready = time.monotonic() - started
    time.sleep(args.settle)
    server = bench.tmux_server_pid()
    looks0 = bench.looks()
    sizes0 = bench.log_sizes()
    busy0 = machine_busy()
    mon0 = cpu_of(pid)
    main0 = main_thread_cpu(pid)
    srv0 = cpu_of(server) if server else None
    t0 = time.monotonic()
    time.sleep(args.seconds)
    mon1 = cpu_of(pid)
    main1 = main_thread_cpu(pid)
    srv1 = cpu_of(server) if server else None
    elapsed = time.monotonic() - t0
    busy1 = machine_busy()
    sizes1 = bench.log_sizes()
    looks1 = bench.looks()
    states = bench.states()
    lines, nbytes = lines_written(sizes0, sizes1)

    def pct(seconds: float) -> str:
        return f"{seconds / elapsed * 100:5.2f}% of one core ({seconds:.2f} s CPU)"

    cores = os.cpu_count() or 1
    print(
        f"monitor CPU: {args.tasks} tasks printing {args.rate:g} lines/s each, "
        f"measured over {elapsed:.1f} s ({cores} cores)"
    )
    print(f"  monitor process (utime+stime):  {pct(mon1.own - mon0.own)}")
    print(f"    its main thread:              {pct(main1 - main0)}")
    print(f"    its other threads (watchdog):  {pct(mon1.own - mon0.own - (main1 - main0))}")
    print(f"  tmux clients it ran (children): {pct(mon1.children - mon0.children)}")
    if srv0 is not None and srv1 is not None:
        print(f"  tmux server:                    {pct(srv1.own - srv0.own)}")
    machine = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * 100
    print(f"  whole machine:                  {machine:5.1f}% busy ({cores} cores)")
    print(
        f"  tasks printed {lines / elapsed:.0f} lines/s in all "
        f"({nbytes / elapsed / 1024:.0f} KiB/s into {len(sizes1)} logs); "
        f"all {args.tasks} working after {ready:.1f} s"
    )
    if looks0 is not None and looks1 is not None:
        print(f"  monitor captures in the window: {looks1 - looks0}")
    print(f"  stored states at the end: {dict(sorted(states.items()))}")
    print("  target (monitor process): under 5% of one core")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="lines per second per task")
    parser.add_argument("--seconds", type=float, default=60.0, help="the measuring window")
    parser.add_argument("--settle", type=float, default=3.0, help="wait before measuring")
    parser.add_argument("--count-looks", action="store_true", help="report the monitor's looks")
    args = parser.parse_args()
    compile_package()
    with tempfile.TemporaryDirectory(prefix="tcx-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        work = root / "project"
        work.mkdir()
        fake = root / "codex"
        fake.write_text(f"#!{sys.executable}\n{FAKE_CODEX}")
        fake.chmod(0o755)
        socket = f"tcx-bench-{os.getpid()}"
        home = root / "home"
        env = fleet_env(home, socket, root / "none.toml", fake, {"TCX_BENCH_RATE": str(args.rate)})
        bench = Bench(tmux_codex_cmd(), env, home, socket, counting=args.count_looks)
        return bench.run("monitor_cpu", lambda: run(bench, args, work))


if __name__ == "__main__":
    sys.exit(main())
