"""``python -m tmux_codex.sim PORT [--log FILE] [--scenario NAME]``."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tmux_codex.sim.scenarios import SCENARIOS
from tmux_codex.sim.server import FakeModelServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tmux_codex.sim",
        description="Fake OpenAI Responses API server for running Codex offline.",
    )
    parser.add_argument("port", type=int, help="TCP port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--log", type=Path, help="append every request to this JSONL file")
    parser.add_argument(
        "--scenario",
        default="complete",
        choices=sorted(SCENARIOS),
        help="scenario for requests whose latest user message has no [scenario:NAME] tag",
    )
    args = parser.parse_args(argv)
    try:
        server = FakeModelServer(args.port, request_log=args.log, default_scenario=args.scenario)
    except OSError as exc:
        print(f"tmux_codex.sim: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"fake model server listening on {server.base_url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
