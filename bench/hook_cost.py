"""What tmux-codex's PermissionRequest hook costs each approval: the program Codex runs.

Usage: ``python bench/hook_cost.py [--runs 30]``

Target: well under Codex's hook timeout (5 s); the probe of CODEX.md saw about
135 ms for a python3 hook by absolute path. A benchmark, not a test.

Method: a temporary ``TMUX_CODEX_HOME`` with one task in its store and an
allowlist config (``allow_commands = ['^ls\\b']``); the hook is run exactly as
Codex runs it (``bash -c 'PYTHON -I -m tmux_codex.codex.hook HOME 1
PermissionRequest'``, the event's JSON on stdin) ``--runs`` times for each of:
an allowed command (the hook answers ``allow`` and records an event), one
that waits for a person (the task becomes ``waiting``, an audit event), and
SessionStart (a signal only); next to ``python -I -c pass`` under ``bash -c``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fleet import compile_package

from tmux_codex.codex.hooks import hook_command
from tmux_codex.core.store import Store


def payload(event: str, command: str | None = None) -> bytes:
    data: dict[str, object] = {
        "session_id": "0199aaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "turn_id": "t",
        "cwd": "/",
        "hook_event_name": event,
        "model": "mock-model",
        "permission_mode": "default",
    }
    if command is not None:
        data["tool_name"] = "Bash"
        data["tool_input"] = {"command": command, "description": "bench"}
    return json.dumps(data).encode()


def timed(argv: list[str], stdin: bytes, env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(argv, input=stdin, env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - began) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    compile_package()
    with tempfile.TemporaryDirectory(prefix="tcx-hook-") as tmp:
        home = Path(tmp) / "home"
        config = Path(tmp) / "config.toml"
        config.write_text("[policy]\napprove = \"allowlist\"\nallow_commands = ['^ls\\\\b']\n")
        with Store(home) as store:
            store.add_task(
                {
                    "state": "working",
                    "mode": "tui",
                    "workdir": tmp,
                    "argv": [],
                    "log_path": str(home / "logs" / "{id}.log"),
                },
                "bench",
                "bench",
            )
        env = {**os.environ, "TMUX_CODEX_CONFIG": str(config)}
        rows: list[tuple[str, list[float]]] = [
            (
                "bash -c 'python -I -c pass'",
                timed(
                    ["bash", "-c", shlex.join([sys.executable, "-I", "-c", "pass"])],
                    b"",
                    env,
                    args.runs,
                ),
            )
        ]
        cases = [
            ("PermissionRequest, allowed", "PermissionRequest", "ls -la"),
            ("PermissionRequest, waits", "PermissionRequest", "ls; touch x"),
            ("SessionStart (a signal)", "SessionStart", None),
        ]
        for label, event, command in cases:
            argv = ["bash", "-c", hook_command(home, 1, event)]
            with Store(home) as store:  # each case from a task that is working again
                store.update(1, state="working", hook_request=None)
            rows.append((label, timed(argv, payload(event, command), env, args.runs)))
    print(f"tmux-codex's hook, as Codex runs it, {args.runs} runs each, {os.cpu_count()} cores")
    print(f"  {'':34} {'median':>9} {'p95':>9} {'min':>9} {'max':>9}")
    for label, values in rows:
        ordered = sorted(values)
        p95 = ordered[max(int(len(ordered) * 0.95 + 0.5) - 1, 0)]
        print(
            f"  {label:34} {statistics.median(values):6.1f} ms {p95:6.1f} ms"
            f" {min(values):6.1f} ms {max(values):6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
