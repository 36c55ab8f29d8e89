"""What the benchmarks share: tmux-codex on a private tmux server and ``TMUX_CODEX_HOME``.

Imported by the scripts beside it, which run as ``python bench/<script>.py`` (so
this directory is ``sys.path[0]``): ``from _fleet import Fleet``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The monitor, as ``tmux-codex monitor`` runs it, but reporting its captures on SIGUSR1.
COUNTING_MONITOR = """
import os, signal
from tmux_codex.monitor import loop as mon
seen = []
init = mon.Monitor.__init__
def __init__(self, *args, **kwargs):
    init(self, *args, **kwargs)
    seen.append(self)
mon.Monitor.__init__ = __init__
def report(signum, frame):
    looks = getattr(seen[-1], "looks", None) if seen else None
    os.write(1, f"bench: looks {looks}\\n".encode())
signal.signal(signal.SIGUSR1, report)
from tmux_codex.cli.main import main
main(["monitor"])
"""

#: How ``COUNTING_MONITOR`` starts each report in ``monitor.log``.
LOOKS_MARKER = "bench: looks "


class BenchError(Exception):
    """Something failed (not merely slow)."""


def compile_package() -> None:
    """Byte-compile ``tmux_codex`` first, so no timed start-up compiles it."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "tmux_codex"], check=True, cwd=ROOT)


def tmux_codex_cmd() -> list[str]:
    """How to run ``tmux-codex`` from this interpreter's environment."""
    script = Path(sys.executable).with_name("tmux-codex")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tmux_codex"]


def fleet_env(
    home: Path, socket: str, config: Path, codex: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """This environment, pointed at a private home, tmux socket, config and Codex."""
    env = {
        **os.environ,
        "TMUX_CODEX_HOME": str(home),
        "TMUX_CODEX_SOCKET": socket,
        "TMUX_CODEX_CONFIG": str(config),
        "TMUX_CODEX_CODEX": str(codex),
        **(extra or {}),
    }
    for var in ("TMUX", "TMUX_PANE", "PYTHONDONTWRITEBYTECODE", "TMUX_CODEX_DEBUG"):
        env.pop(var, None)
    return env


def wait_for_shims(db: Path, timeout: float = 10.0) -> None:
    """Wait until the tasks' shims (which record how Codex ended) have exited."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            pids = [int(r[0]) for r in conn.execute("SELECT shim_pid FROM tasks") if r[0]]
        finally:
            conn.close()
    except sqlite3.Error:
        return
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                break  # gone
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                break  # exited, not yet reaped
            time.sleep(0.02)


class Fleet:
    """tmux-codex's CLI and monitor on a private tmux server and home, and their cleanup."""

    def __init__(
        self,
        cmd: list[str],
        env: dict[str, str],
        home: Path,
        socket: str,
        *,
        counting: bool = False,
        cli_timeout: float | None = None,
    ) -> None:
        self.cmd = cmd
        self.env = env
        self.home = home
        self.socket = socket
        self.counting = counting  # run the monitor as COUNTING_MONITOR (``--count-looks``)
        self.cli_timeout = cli_timeout
        self.monitor_pid: int | None = None

    def cli(self, *argv: str) -> str:
        proc = subprocess.run(
            [*self.cmd, *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.cli_timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchError(f"tmux-codex {argv[0]} exited {proc.returncode}: {proc.stderr}")
        return proc.stdout

    def start_monitor(self) -> int:
        if self.counting:
            self.home.mkdir(mode=0o700, exist_ok=True)
            log_fd = os.open(
                self.home / "monitor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
            )
            try:
                subprocess.Popen(
                    [sys.executable, "-c", COUNTING_MONITOR],
                    stdin=subprocess.DEVNULL,
                    stdout=log_fd,
                    stderr=log_fd,
                    cwd="/",
                    env=self.env,
                    start_new_session=True,
                )
            finally:
                os.close(log_fd)
        else:
            self.cli("monitor", "--detach")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            proc = subprocess.run(
                [*self.cmd, "monitor", "--status", "--json"],
                env=self.env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0:
                pid = json.loads(proc.stdout).get("pid")
                if pid:
                    self.monitor_pid = int(pid)
                    return self.monitor_pid
            time.sleep(0.05)
        raise BenchError("the monitor did not start")

    def looks(self) -> int | None:
        """The monitor's captures so far (``--count-looks`` only)."""
        if not self.counting or self.monitor_pid is None:
            return None
        path = self.home / "monitor.log"
        before = path.read_text(errors="replace").count(LOOKS_MARKER)
        os.kill(self.monitor_pid, signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = [
                line
                for line in path.read_text(errors="replace").splitlines()
                if line.startswith(LOOKS_MARKER)
            ]
            if len(lines) > before:
                value = lines[-1].split()[-1]
                return int(value) if value.isdigit() else None
            time.sleep(0.01)
        return None

    def cleanup(self) -> None:
        subprocess.run(
            [*self.cmd, "monitor", "--stop"], env=self.env, capture_output=True, check=False
        )
        path = subprocess.run(
            ["tmux", "-L", self.socket, "display", "-p", "#{socket_path}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)
        if path:  # tmux 3.3a leaves its socket file behind
            Path(path).unlink(missing_ok=True)
        wait_for_shims(self.home / "tasks.db")

    def print_monitor_log(self) -> None:
        try:
            lines = (self.home / "monitor.log").read_text(errors="replace").splitlines()
        except OSError:
            return
        if any("error" in line.lower() for line in lines):
            print("monitor.log has errors; its last 40 lines:")
            for line in lines[-40:]:
                print(f"  {line}")

    def run(self, name: str, body: Callable[[], int]) -> int:
        """``body()``'s exit status (1 and one line on a BenchError); cleaned up after."""
        try:
            return body()
        except BenchError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        finally:
            self.cleanup()
            self.print_monitor_log()
