"""How long ``tmux-codex list --json`` takes with 50 live tasks on a real tmux server.

Usage: ``python bench/cli_latency.py [--tasks 50] [--ended 0] [--runs 30]``

``--ended 150`` first runs 150 tasks that end at once (a store of 200 tasks,
50 live: the fleet's figure), and times ``list --all --json`` too.

Starts a private tmux server and 50 tasks whose "codex" is a small fake that
draws a Codex-like idle screen and waits, then times ``list --json`` and
``show`` twice: with no monitor (every live task classified from a fresh
capture) and with one running (it vouches for the tasks it has seen, so a
read takes their stored state: docs/monitor.md, "Its word"). Target: a
median under 80 ms on a 2-core machine; issue 13's, ``list --json`` of 200
tasks (50 live) at most 2x ``python -c "import click"``. A benchmark, not a
test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAKE_CODEX = """#!/bin/sh
[ "$1" = --version ] && { echo "codex-cli 0.169.0"; exit 0; }
printf '\\033]0;Fake task | project\\007\\033]7501;state=done:app=codex\\033\\\\'
printf '  >_ OpenAI Codex (v0.169.0)\\n\\n› %s\\n\\n• All done.\\n\\n  Worked for 1s\\n\\n' "$*"
printf '› Ask Codex to do anything\\n\\n  mock-model default · project\\n'
exec sleep 3600
"""
# ``--busy``: a turn that goes on, its status line redrawn ten times a second.
BUSY_CODEX = """#!/bin/sh
[ "$1" = --version ] && { echo "codex-cli 0.169.0"; exit 0; }
printf '\\033]0;Working | project\\007\\033]7501;state=working:app=codex\\033\\\\'
printf '  >_ OpenAI Codex (v0.169.0)\\n\\n› %s\\n\\n' "$*"
i=0
while :; do
  printf '\\r\\033[2K• Working (%ds • esc to interrupt)' $((i / 10))
  i=$((i + 1))
  sleep 0.1
done
"""
ENDING_CODEX = '#!/bin/sh\n[ "$1" = --version ] && echo "codex-cli 0.169.0"\nexit 0\n'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--ended", type=int, default=0, help="tasks that end first")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--busy", action="store_true", help="tasks at work, redrawing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tcx-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        fake = root / "codex"
        fake.write_text(BUSY_CODEX if args.busy else FAKE_CODEX)
        fake.chmod(0o755)
        socket = f"tcx-bench-{os.getpid()}"
        env = {
            **os.environ,
            "TMUX_CODEX_HOME": str(root / "home"),
            "TMUX_CODEX_SOCKET": socket,
            "TMUX_CODEX_CONFIG": str(root / "none.toml"),
            "TMUX_CODEX_CODEX": str(fake),
        }
        # Time the CLI as users run it: with its bytecode cached.
        for var in ("TMUX", "TMUX_PANE", "PYTHONDONTWRITEBYTECODE"):
            env.pop(var, None)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "tmux_codex"],
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        # The console script, as users run it (``python -m`` adds runpy's cost).
        script = Path(sys.executable).with_name("tmux-codex")
        cmd = [str(script)] if script.exists() else [sys.executable, "-m", "tmux_codex"]
        ending = root / "codex-ends"
        ending.write_text(ENDING_CODEX)
        ending.chmod(0o755)
        try:
            for i in range(args.ended):
                subprocess.run(
                    [*cmd, "start", "--mode", "tui", "--no-monitor", "-C", tmp, f"ended {i}"],
                    env={**env, "TMUX_CODEX_CODEX": str(ending)},
                    check=True,
                    capture_output=True,
                )
            for i in range(args.tasks):
                subprocess.run(
                    [*cmd, "start", "--mode", "tui", "--no-monitor", "-C", tmp, f"task {i}"],
                    env=env,
                    check=True,
                    capture_output=True,
                )
            # Let every fake draw its screen before timing.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                out = subprocess.run(
                    [*cmd, "list", "--state", "working" if args.busy else "idle", "--json"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                if out.count('"id"') == args.tasks:
                    break
            results = {}
            live = str(args.ended + 1)
            timed = [("list --json", ["list", "--json"]), (f"show {live}", ["show", live])]
            if args.ended:
                timed.append(("list --all --json", ["list", "--all", "--json"]))
            for phase in ("no monitor", "monitor"):
                if phase == "monitor":
                    subprocess.run([*cmd, "monitor", "--detach"], env=env, check=True)
                    vouched = root / "home" / "monitor-vouch.json"
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        try:
                            if len(json.loads(vouched.read_text())["tasks"]) >= args.tasks:
                                break
                        except (OSError, ValueError, KeyError):
                            pass
                        time.sleep(0.05)  # a benchmark's set-up, not a test
                for name, argv in timed:
                    times = []
                    for _ in range(args.runs):
                        start = time.perf_counter()
                        subprocess.run([*cmd, *argv], env=env, check=True, capture_output=True)
                        times.append((time.perf_counter() - start) * 1000)
                    results[f"{name}, {phase}"] = times
            base = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", "import click"], env=env, check=True)
                base.append((time.perf_counter() - start) * 1000)
        finally:
            subprocess.run([*cmd, "monitor", "--stop"], env=env, capture_output=True, check=False)
            subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    print(
        f"{args.tasks} live tasks{' (busy)' if args.busy else ''}, {args.ended} ended, "
        f"{args.runs} runs each, "
        f"{os.cpu_count()} cores"
    )
    print(f"  python + import click:  median {statistics.median(base):6.1f} ms")
    for name, times in results.items():
        ratio = statistics.median(times) / statistics.median(base)
        print(
            f"  tmux-codex {name:29} median {statistics.median(times):6.1f} ms, "
            f"p90 {sorted(times)[int(len(times) * 0.9) - 1]:6.1f} ms, "
            f"{ratio:.2f}x python + click"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
