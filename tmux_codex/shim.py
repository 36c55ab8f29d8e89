"""What runs in a task's pane: ``python -m tmux_codex.shim HOME TASK_ID``.

It reads the task's argv from the store (so no shell ever parses the prompt),
makes the pane keep its exit status and log every byte (``remain-on-exit``,
``pipe-pane``) before Codex prints anything, runs Codex in the foreground of
the pane's terminal, and records how it ended.

The shim stays Codex's parent rather than ``exec``-ing it: tmux 3.3a can miss
the exit of a pane's process (the pane stays dead with no exit status), and a
parent that writes the exit code to the store needs no help from tmux.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import IO

from tmux_codex.logtext import end_mark
from tmux_codex.models import LIVE_STATES, Task
from tmux_codex.paths import env_path, prompt_path
from tmux_codex.store import Store
from tmux_codex.tmux import TASK_OPTION, literal
from tmux_codex.wake import wake


def _prepare_pane(task_id: int, log_path: str) -> None:
    pane = os.environ.get("TMUX_PANE")
    if not pane:
        return
    # Quoted for the shell that runs it, then escaped for tmux, which expands
    # formats (#{...}, #(...)) and strftime (%) in the pipe's command.
    pipe = literal(f"cat >> {shlex.quote(log_path)}", strftime=True)
    subprocess.run(
        [
            "tmux",
            "set-option",
            "-w",
            "-t",
            pane,
            "remain-on-exit",
            "on",
            ";",
            "set-option",
            "-w",
            "-t",
            pane,
            TASK_OPTION,
            str(task_id),
            ";",
            "pipe-pane",
            "-o",
            "-t",
            pane,
            pipe,
        ],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _foreground() -> None:
    """In the child: its own process group, in the foreground of the terminal."""
    os.setpgid(0, 0)
    try:
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.tcsetpgrp(sys.stdout.fileno(), os.getpgrp())
        signal.signal(signal.SIGTTOU, old)
    except OSError:
        pass


#: Taken from the pane, not from ``start``'s environment: they describe the pane.
_PANE_VARS = ("TMUX", "TMUX_PANE", "TERM", "COLORTERM")


def _environment(home: Path, task_id: int) -> dict[str, str]:
    """The environment ``start`` left for this task (read once), with the pane's own vars."""
    path = env_path(home, task_id)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        path.unlink()
    except (OSError, ValueError):
        return dict(os.environ)
    env = {str(k): str(v) for k, v in saved.items()} if isinstance(saved, dict) else {}
    for var in _PANE_VARS:
        if var in os.environ:
            env[var] = os.environ[var]
    return env


def run(home: Path, task_id: int) -> int:
    with Store(home) as store:
        task = store.get(task_id)
        if task is None:
            print(f"tmux-codex shim: no task {task_id} in {home}", file=sys.stderr)
            return 1
        env = _environment(home, task_id)
        _prepare_pane(task_id, task.log_path)
        store.update(task_id, shim_pid=os.getpid())
        hung_up = False
        pending: list[int] = []
        child: subprocess.Popen[bytes] | None = None

        def forward(signum: int, frame: FrameType | None) -> None:
            nonlocal hung_up
            if signum == signal.SIGHUP:
                hung_up = True
            if child is None:
                pending.append(signum)  # Codex is not running yet
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, forward)
        prompt = _prompt(home, task) if task.mode == "exec" and task.argv[-1:] == ["-"] else None
        stdin: int | None = None
        if task.mode == "exec":  # exec reads stdin to its end: the prompt, or nothing
            stdin = subprocess.PIPE if prompt is not None else subprocess.DEVNULL
        try:
            child = subprocess.Popen(
                task.argv, cwd=task.workdir, stdin=stdin, env=env, preexec_fn=_foreground
            )
            if prompt is not None and child.stdin is not None:
                threading.Thread(target=_feed, args=(child.stdin, prompt), daemon=True).start()
        except OSError as exc:
            print(f"tmux-codex: cannot run {task.argv[0]}: {exc}", file=sys.stderr)
            _print_end(task.attempt)
            store.set_state(
                task_id,
                "failed",
                detail=f"cannot run codex: {exc}",
                only_from=LIVE_STATES,
                exit_code=127,
                error=str(exc),
            )
            wake(home, task_id)
            return 127
        # Codex has the terminal; keys meant for it must not end the shim.
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
            signal.signal(sig, signal.SIG_IGN)
        for signum in pending:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signum)
        code = child.wait()
        exit_code = code if code >= 0 else 128 - code
        _print_end(task.attempt)
        if hung_up:
            store.set_state(
                task_id,
                "lost",
                detail="its tmux pane or server went away",
                only_from=LIVE_STATES,
                exit_code=exit_code,
            )
        else:
            state = "done" if exit_code == 0 else "failed"
            store.set_state(
                task_id,
                state,
                detail=f"codex exited with status {exit_code}",
                only_from=LIVE_STATES,
                exit_code=exit_code,
            )
            store.update(task_id, exit_code=exit_code)
        wake(home, task_id)
        return exit_code


def _prompt(home: Path, task: Task) -> bytes:
    """An exec task's prompt for this run (left by ``start`` or ``resume``; read once)."""
    path = prompt_path(home, task.id)
    try:
        data = path.read_bytes()
        path.unlink()
        return data
    except OSError:
        return (task.prompt or "").encode()


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write the prompt to Codex's stdin and close it (exec reads to the end)."""
    with contextlib.suppress(OSError), pipe:
        pipe.write(data)


def _print_end(attempt: int) -> None:
    """Mark the end of this run in the pane's output, so in the log (see logtext.end_mark)."""
    sys.stderr.flush()
    with contextlib.suppress(OSError):  # the pane may be gone
        os.write(sys.stdout.fileno(), end_mark(attempt))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m tmux_codex.shim HOME TASK_ID", file=sys.stderr)
        return 2
    return run(Path(args[0]), int(args[1]))


if __name__ == "__main__":
    sys.exit(main())
