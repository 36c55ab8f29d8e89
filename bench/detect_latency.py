"""How soon the store says ``waiting`` once Codex shows an approval prompt, next to 500 ms polling.

Usage: ``python bench/detect_latency.py [--prompts 30] [--poll-interval 0.5]
[--timeout 60] [--count-looks] [--hooks both|on|off]``

Target: with the monitor running, the task's stored state is ``waiting`` a
median under 50 ms (p95 under 200 ms) after the prompt appears. A benchmark,
not a test: it asserts nothing about time and exits non-zero only when
something fails (no prompt, no answer, a monitor that never notices).

Method: a private tmux server, a temporary ``TMUX_CODEX_HOME``, the real
pinned Codex TUI (``.tools/codex``) against the scripted fake model server on
loopback, one task started with ``start --mode tui --no-monitor`` in a trusted
workdir on ``[scenario:approval-exec]``, and the monitor started on its own
(``monitor --detach``). A warm-up round (Codex starting up) is not counted.
Each round waits a random 0-500 ms, sends ``[scenario:approval-exec] again``
into the idle TUI, and records

- t0: the task's log (the raw pane bytes tmux pipes to it) first holds
  ``Would you like to run the following command?`` (checked every ~1 ms);
- t1: the store (SQLite, read-only) first says ``waiting`` (same ~1 ms loop);
- t2: a loop that, as peer tools do, captures the pane every 500 ms (on a
  fixed tick, running across rounds, so its phase relative to the prompt is
  random) and classifies it with ``tmux_codex.codex.classify.classify``, first says
  ``waiting``.

then answers ``y`` and waits for the store to say ``idle``. Monitor latency is
t1 - t0, polling latency t2 - t0 (expected median about half the interval).
Both are measured from the log, which tmux writes a little after it draws the
pane: a capture may see the prompt (and a latency be below zero) before it.
Also shown: how long before drawing the prompt Codex printed its ``blocked``
state escape (the monitor's cue to look), and how long from sending the
message to the prompt being drawn (with hooks on, the PermissionRequest hook
runs in that time: the difference between the two runs is what it adds).

``--count-looks`` runs the same monitor through a small wrapper that reports
how many captures ("looks") it made (``Monitor.looks``, logged on SIGUSR1).

``--hooks``: with tmux-codex's Codex hooks (``on``, as every task runs), the
PermissionRequest hook records ``waiting`` before Codex draws the prompt (a
latency below zero); with ``off`` (``-c features.hooks=false``) only the
monitor's screen reading does; ``both`` (the default) runs a task of each
kind in turn. The gap from Codex's ``blocked`` escape to the prompt, next to
each other, shows what the hook adds to every approval.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _fleet import ROOT, BenchError, Fleet, compile_package, fleet_env, tmux_codex_cmd

from tmux_codex.codex.classify import classify
from tmux_codex.sim import FakeModelServer
from tmux_codex.sim.home import API_KEY_ENV, write_codex_home
from tmux_codex.tmux.server import Tmux

LOCAL_CODEX = ROOT / ".tools" / "codex" / "node_modules" / ".bin" / "codex"
NEEDLE = b"Would you like to run the following command?"
BLOCKED = b"\x1b]7501;state=blocked"
PROMPT = "[scenario:approval-exec] {}"


@dataclass
class Watch:
    """What the ~1 ms loop saw since it was armed for a round."""

    offset: int = 0
    carry: bytes = b""
    t0: float | None = None
    blocked: float | None = None  # when Codex's "blocked" escape reached the log
    t1: float | None = None
    reason_at_t1: str | None = None
    states: list[tuple[float, str, str | None]] = field(default_factory=list)


class Watcher(threading.Thread):
    """Checks the task's log and its stored row every ~1 ms."""

    def __init__(self, db: Path, task_id: int, log_path: Path) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.task_id = task_id
        self.log_path = log_path
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.watch: Watch | None = None
        self.error: BaseException | None = None

    def arm(self, offset: int) -> Watch:
        watch = Watch(offset=offset)
        with self.lock:
            self.watch = watch
        return watch

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.error = exc

    def _loop(self) -> None:
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, check_same_thread=False)
        fd = os.open(self.log_path, os.O_RDONLY)
        try:
            while not self.stopping.is_set():
                with self.lock:
                    watch = self.watch
                if watch is not None:
                    self._check(db, fd, watch)
                time.sleep(0.001)
        finally:
            os.close(fd)
            db.close()

    def _check(self, db: sqlite3.Connection, fd: int, watch: Watch) -> None:
        if watch.t0 is None:
            size = os.fstat(fd).st_size
            if size > watch.offset:
                data = os.pread(fd, size - watch.offset, watch.offset)
                now = time.perf_counter()
                watch.offset += len(data)
                if watch.blocked is None and BLOCKED in watch.carry + data:
                    watch.blocked = now
                if NEEDLE in watch.carry + data:
                    watch.t0 = now
                watch.carry = (watch.carry + data)[-len(NEEDLE) :]
        row = db.execute("SELECT state, reason FROM tasks WHERE id = ?", (self.task_id,)).fetchone()
        now = time.perf_counter()
        if row is None:
            return
        state, reason = str(row[0]), row[1]
        if not watch.states or watch.states[-1][1:] != (state, reason):
            watch.states.append((now, state, reason))
        if state == "waiting" and watch.t1 is None:
            watch.t1 = now
            watch.reason_at_t1 = reason


class Poller(threading.Thread):
    """What peer tools do: capture the pane every ``interval`` and classify it."""

    def __init__(self, socket: str, pane: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.tmux = Tmux(socket)
        self.pane = pane
        self.interval = interval
        self.stopping = threading.Event()
        self.seen: list[tuple[float, str, str | None]] = []  # (when classified, state, reason)
        self.error: BaseException | None = None

    def run(self) -> None:
        tick = time.perf_counter()
        try:
            while not self.stopping.is_set():
                panes, screens = self.tmux.snapshot([self.pane])
                title = next((p.title for p in panes.values() if p.pane_id == self.pane), "")
                verdict = classify(screens.get(self.pane, ""), title, "tui")
                self.seen.append((time.perf_counter(), verdict.state, verdict.reason))
                tick += self.interval
                self.stopping.wait(max(tick - time.perf_counter(), 0.0))
        except BaseException as exc:
            self.error = exc

    def first_waiting(self, after: float) -> float | None:
        for when, state, _ in list(self.seen):
            if when > after and state == "waiting":
                return when
        return None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=30, help="measured approval prompts")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="the polling loop's")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per wait")
    parser.add_argument("--count-looks", action="store_true", help="report the monitor's captures")
    parser.add_argument("--hooks", choices=("both", "on", "off"), default="both")
    args = parser.parse_args()
    codex = Path(os.environ.get("TMUX_CODEX_TEST_CODEX") or LOCAL_CODEX)
    if not codex.exists():
        print("the pinned Codex is not installed: run scripts/setup", file=sys.stderr)
        return 1
    compile_package()
    with (
        tempfile.TemporaryDirectory(prefix="tcx-bench-", ignore_cleanup_errors=True) as tmp,
        FakeModelServer(0) as model,
    ):
        root = Path(tmp)
        work = root / "project"
        work.mkdir()
        (root / "user").mkdir()
        write_codex_home(root / "codex-home", model.base_url, trusted=[work])
        home = root / "home"
        socket = f"tcx-bench-{os.getpid()}"
        env = fleet_env(
            home,
            socket,
            root / "none.toml",
            codex,
            {
                "CODEX_HOME": str(root / "codex-home"),
                API_KEY_ENV: "x",
                "HOME": str(root / "user"),  # no shell start-up files for Codex's commands
                "PATH": f"{codex.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            },
        )
        bench = Bench(tmux_codex_cmd(), env, home, socket, args)
        modes = [True, False] if args.hooks == "both" else [args.hooks == "on"]
        return bench.run("detect_latency", lambda: bench.all_rounds(work, modes))


class Bench(Fleet):
    """The fleet, one Codex TUI task in it, and the rounds of approval prompts."""

    def __init__(
        self,
        cmd: list[str],
        env: dict[str, str],
        home: Path,
        socket: str,
        args: argparse.Namespace,
    ) -> None:
        super().__init__(cmd, env, home, socket, counting=args.count_looks, cli_timeout=120)
        self.args = args
        self.threads: list[Watcher | Poller] = []
        self.hooks = True

    def stored(self, db: sqlite3.Connection, task_id: int) -> tuple[str, str | None]:
        row = db.execute("SELECT state, reason FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return (str(row[0]), row[1]) if row else ("", None)

    def wait_stored(self, task_id: int, *states: str) -> None:
        db = sqlite3.connect(f"file:{self.home / 'tasks.db'}?mode=ro", uri=True)
        try:
            deadline = time.monotonic() + self.args.timeout
            seen: tuple[str, str | None] = ("", None)
            while time.monotonic() < deadline:
                seen = self.stored(db, task_id)
                if seen[0] in states:
                    return
                time.sleep(0.01)
        finally:
            db.close()
        raise BenchError(
            f"task {task_id} not {'/'.join(states)} after {self.args.timeout:.0f}s "
            f"(stored: {seen[0]}{':' + seen[1] if seen[1] else ''})"
        )

    def all_rounds(self, work: Path, modes: list[bool]) -> int:
        self.start_monitor()
        failed = 0
        for hooks in modes:
            failed |= self.rounds(work, hooks)
        return failed

    def rounds(self, work: Path, hooks: bool) -> int:
        off = [] if hooks else ["--codex-arg=-c", "--codex-arg=features.hooks=false"]
        task = json.loads(
            self.cli(
                "start",
                "--mode",
                "tui",
                "--no-monitor",
                "-C",
                str(work),
                "--json",
                *off,
                PROMPT.format("go"),
            )
        )
        task_id = int(task["id"])
        self.hooks = hooks
        # Warm-up: Codex starts, shows the first prompt; not measured.
        self.wait_stored(task_id, "waiting")
        self.cli("send", str(task_id), "y")
        self.wait_stored(task_id, "idle")
        looks_before = self.looks()
        pane = str(task["pane_id"])
        watcher = Watcher(self.home / "tasks.db", task_id, Path(task["log_path"]))
        poller = Poller(self.socket, pane, self.args.poll_interval)
        self.threads = [watcher, poller]
        watcher.start()
        poller.start()
        monitor_ms: list[float] = []
        polling_ms: list[float] = []
        announce_ms: list[float] = []
        turn_ms: list[float] = []  # the message sent -> the prompt drawn (the hook is in it)
        misses: list[str] = []
        odd: list[str] = []
        for round_no in range(1, self.args.prompts + 1):
            # A random pause, so the polling loop's phase is random relative to the prompt
            # (rounds otherwise last nearly a whole number of intervals).
            time.sleep(random.uniform(0, self.args.poll_interval))
            watch = watcher.arm(os.stat(task["log_path"]).st_size)
            began = time.perf_counter()
            self.cli("send", str(task_id), PROMPT.format("again"))
            deadline = time.monotonic() + self.args.timeout
            while watch.t0 is None:
                self.check_threads()
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"round {round_no}: no approval prompt in the log after "
                        f"{self.args.timeout:.0f}s"
                    )
                time.sleep(0.01)
            t0 = watch.t0
            turn_ms.append((t0 - began) * 1000)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (
                watch.t1 is None or poller.first_waiting(began) is None
            ):
                self.check_threads()
                time.sleep(0.01)
            t2 = poller.first_waiting(began)
            if watch.t1 is None:
                misses.append(f"round {round_no}: the store never said waiting within 10s")
            else:
                monitor_ms.append((watch.t1 - t0) * 1000)
                if watch.reason_at_t1 != "approval":
                    odd.append(f"round {round_no}: stored waiting:{watch.reason_at_t1}")
            if t2 is None:
                misses.append(f"round {round_no}: the polling loop never said waiting in 10s")
            else:
                polling_ms.append((t2 - t0) * 1000)
            if watch.blocked is not None:
                announce_ms.append((t0 - watch.blocked) * 1000)
            self.cli("send", str(task_id), "y")
            self.wait_stored(task_id, "idle")
            path = [f"{s}:{r}" if r else s for _, s, r in watch.states]
            if any(p not in ("idle", "working", "waiting:approval", "starting") for p in path):
                odd.append(f"round {round_no}: stored states {' -> '.join(path)}")
        looks_after = self.looks()
        self.report(monitor_ms, polling_ms, announce_ms, turn_ms, looks_before, looks_after)
        for line in odd + misses:
            print(f"  note: {line}")
        for thread in self.threads:
            thread.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.threads = []
        self.cli("kill", str(task_id))
        return 1 if misses else 0

    def check_threads(self) -> None:
        for thread in self.threads:
            if thread.error is not None:
                raise BenchError(f"{type(thread).__name__} failed: {thread.error!r}")

    def report(
        self,
        monitor_ms: list[float],
        polling_ms: list[float],
        announce_ms: list[float],
        turn_ms: list[float],
        looks_before: int | None,
        looks_after: int | None,
    ) -> None:
        interval_ms = self.args.poll_interval * 1000
        print(
            f"approval prompt -> waiting, {self.args.prompts} prompts on one Codex TUI task, "
            f"hooks {'on' if self.hooks else 'off (features.hooks=false)'}, "
            f"{os.cpu_count()} cores"
        )
        print(f"  {'':34} {'median':>9} {'p95':>9} {'min':>9} {'max':>9} {'n':>4}")
        rows: list[tuple[str, list[float]]] = [
            ("monitor (store says waiting)", monitor_ms),
            (f"{interval_ms:.0f} ms capture-pane polling", polling_ms),
            ("(Codex's blocked escape -> prompt)", announce_ms),
            ("(message sent -> prompt drawn)", turn_ms),
        ]
        for name, values in rows:
            if not values:
                print(f"  {name:34} no measurements")
                continue
            print(
                f"  {name:34} {statistics.median(values):6.1f} ms {percentile(values, 95):6.1f} ms"
                f" {min(values):6.1f} ms {max(values):6.1f} ms {len(values):4}"
            )
        print("  target (monitor): median < 50 ms, p95 < 200 ms")
        if looks_before is not None and looks_after is not None:
            looks = looks_after - looks_before
            print(
                f"  monitor captures during the rounds: {looks} "
                f"({looks / self.args.prompts:.1f} per round)"
            )

    def cleanup(self) -> None:
        for thread in self.threads:
            thread.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        super().cleanup()


if __name__ == "__main__":
    sys.exit(main())
