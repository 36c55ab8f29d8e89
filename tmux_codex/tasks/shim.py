"""What runs in a task's pane: ``python -m tmux_codex.tasks.shim HOME TASK_ID``.

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
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO, Any

from tmux_codex.codex.logtext import end_mark
from tmux_codex.core.errors import DiskFull, TmuxCodexError, is_disk_full
from tmux_codex.core.models import LIVE_STATES, Task
from tmux_codex.core.paths import env_path, log_stopped_detail, prompt_path
from tmux_codex.core.store import Store
from tmux_codex.core.wake import wake
from tmux_codex.tmux.server import TASK_OPTION, literal


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


#: How long the shim waits for its task to be committed (``start`` commits it
#: once the window runs) and keeps retrying the record of how Codex ended.
WAIT_FOR_TASK = 60.0
RECORD_FOR = 30.0


class _Recorder:
    """Writes to the store that never end the shim: Codex and its exit code come first.

    A failed write (a full disk, a store locked too long) is noted, not raised;
    the last one is retried for :data:`RECORD_FOR` seconds. What failed is put
    on record once a write works again.
    """

    def __init__(self, store: Store, task_id: int) -> None:
        self.store = store
        self.task_id = task_id
        self.failures: list[str] = []

    def write(self, what: str, action: Callable[[], object], retry_for: float = 0.0) -> bool:
        started = time.monotonic()
        first: str | None = None
        pause = 0.1
        while True:
            try:
                action()
            except Exception as exc:  # a record must never end the shim
                first = first or _one_line(exc)
                if time.monotonic() - started >= retry_for:
                    self.failures.append(f"{what}: {first}")
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            if first is not None:
                late = time.monotonic() - started
                self.failures.append(f"{what}, written {late:.0f}s late: {first}")
            if self.failures:
                failed, self.failures = self.failures, []
                with contextlib.suppress(Exception):
                    self.store.audit(
                        self.task_id,
                        "tmux-codex could not write to its store for a while: " + "; ".join(failed),
                        by="monitor",
                    )
            return True


def _one_line(exc: BaseException) -> str:
    if is_disk_full(exc):
        return str(exc) if isinstance(exc, DiskFull) else str(DiskFull("the store", exc))
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _wait_for_task(store: Store, task_id: int) -> Task | None:
    """The task, once ``start`` has committed it (it does once this window runs)."""
    deadline = time.monotonic() + WAIT_FOR_TASK
    while True:
        task = store.get(task_id)
        if task is not None or time.monotonic() >= deadline:
            return task
        time.sleep(0.02)


def _pipe_on(pane: str) -> bool | None:
    """Whether tmux still pipes the pane's output into its log (None: cannot tell)."""
    try:
        out = subprocess.run(
            ["tmux", "display-message", "-p", "-t", pane, "#{pane_pipe}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return None if out.returncode != 0 or value not in ("0", "1") else value == "1"


def run(home: Path, task_id: int) -> int:
    try:
        store = Store(home)
    except TmuxCodexError as exc:
        print(f"tmux-codex: {exc}", file=sys.stderr)
        return 1
    with store:
        task = _wait_for_task(store, task_id)
        if task is None:
            print(f"tmux-codex shim: no task {task_id} in {home}", file=sys.stderr)
            return 1
        return _supervise(home, store, task)


def _supervise(home: Path, store: Store, task: Task) -> int:
    """Run the task's Codex in this pane and record how it ended; Codex's exit code."""
    task_id = task.id
    record = _Recorder(store, task_id)
    env = _environment(home, task_id)
    _prepare_pane(task_id, task.log_path)
    record.write("its shim's pid", lambda: store.update(task_id, shim_pid=os.getpid()))
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
        _record_end(record, task, "failed", f"cannot run codex: {exc}", 127, error=str(exc))
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
    pane = os.environ.get("TMUX_PANE")
    notes = []
    if pane and not hung_up and _pipe_on(pane) is False:
        notes.append(log_stopped_detail(Path(task.log_path)))  # its `cat` failed
    if hung_up:
        _record_end(record, task, "lost", "its tmux pane or server went away", exit_code)
    else:
        state = "done" if exit_code == 0 else "failed"
        detail = f"codex exited with status {exit_code}"
        _record_end(record, task, state, detail, exit_code, always_code=True, notes=notes)
    wake(home, task_id)
    return exit_code


#: How much of a log's end is read for the token line Codex prints on exit.
TOKENS_TAIL = 65536


def _final_tokens(store: Store, task: Task) -> dict[str, int | None] | None:
    """The tokens Codex counted: from its rollout, else from the line it printed on exit."""
    from tmux_codex.codex.logtext import strip_escapes
    from tmux_codex.codex.sessions import task_tokens
    from tmux_codex.codex.tokens import parse_tokens
    from tmux_codex.tasks.logfile import raw_tail

    try:
        fresh = store.get(task.id) or task
        found = task_tokens(fresh.codex_home, fresh.codex_session_id)
        if found is None:
            found = parse_tokens(strip_escapes(raw_tail(task.log_path, TOKENS_TAIL)))
    except Exception:  # what a task cost must never keep its end from the record
        return None
    return found.brief() if found is not None else None


def _record_end(
    record: _Recorder,
    task: Task,
    state: str,
    detail: str,
    exit_code: int,
    always_code: bool = False,
    error: str | None = None,
    notes: list[str] | None = None,
) -> None:
    """Record how Codex ended, retrying; if the store will not take it, say so in one line.

    The shim then still exits with Codex's exit code, which tmux keeps for
    any later reader (``list``, the monitor).
    """
    store = record.store

    extra: dict[str, Any] = {} if error is None else {"error": error}
    tokens = _final_tokens(store, task)
    if tokens is not None:
        extra["tokens"] = tokens

    def write() -> None:
        with store.transaction():
            for note in notes or ():
                store.audit(task.id, note, by="monitor", once=True)
            store.set_state(
                task.id,
                state,
                detail=detail,
                only_from=LIVE_STATES,
                exit_code=exit_code,
                **extra,
            )
            if always_code:  # also when it was killed meanwhile
                store.update(task.id, exit_code=exit_code)

    if not record.write("how codex ended", write, retry_for=RECORD_FOR):
        print(
            f"tmux-codex: could not record that task {task.id} ended ({detail}): "
            f"{record.failures[-1]}",
            file=sys.stderr,
        )


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
        print("usage: python -m tmux_codex.tasks.shim HOME TASK_ID", file=sys.stderr)
        return 2
    try:
        return run(Path(args[0]), int(args[1]))
    except Exception as exc:  # one line in the pane, never a traceback
        if os.environ.get("TMUX_CODEX_DEBUG") == "1":
            raise
        print(f"tmux-codex shim: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
