"""The monitor daemon's notification sinks: window marks, tmux messages, bell, desktop, command.

:meth:`Notifier.state_changed` only queues the change; one worker thread
delivers it to every configured sink, each in its own ``try`` so a failing
sink never stops the others. Programs (``notify-send``, the user's command)
are started without waiting: a small thread per program feeds its stdin and
kills it when it runs too long, so a slow program never delays the next
notification. What the sinks say (marks, messages, the command's JSON) is
made by :mod:`tmux_codex.monitor.marks`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from tmux_codex.core.config import NotifyConfig
from tmux_codex.core.models import Event, Task
from tmux_codex.monitor.marks import (
    ENDED_STATES,
    NOTIFY_STATES,
    WINDOW_MARKS,
    event_payload,
    first_line,
    headline,
    message,
    window_name,
)
from tmux_codex.tmux.server import Tmux, literal

#: How long ``notify-send`` may take (it can hang without a session bus).
DESKTOP_TIMEOUT = 10.0
_SEP = "\x1f"


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the program's process group, SIGKILL it after ``grace`` seconds; reap it."""
    if grace > 0:
        _signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
            return
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


#: How often a program's reaper looks whether ``close`` wants it gone.
_TICK = 0.25


def _feed(stream: IO[bytes], data: bytes, deadline: Callable[[], float]) -> None:
    """Write ``data`` to a program's stdin until ``deadline()``, then close it; never blocks."""
    try:
        fd = stream.fileno()
        os.set_blocking(fd, False)
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        view = memoryview(data)
        while view:
            remaining = deadline() - time.monotonic()
            if remaining <= 0:
                return
            if not poller.poll(min(remaining, _TICK) * 1000):
                continue
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                return  # the program closed its stdin: it does not want the rest
    finally:
        with contextlib.suppress(OSError):
            stream.close()


class Notifier:
    """Delivers state changes to the sinks ``config`` turns on, off the caller's thread."""

    def __init__(
        self,
        config: NotifyConfig,
        log: Callable[[str], None] = lambda s: None,
        command_timeout: float = 30.0,
        reporter: Callable[[Task], dict[str, Any]] | None = None,
    ) -> None:
        self.config = config
        self.command_timeout = command_timeout
        #: With ``[notify] report``: the report of an ended task, for the command's JSON.
        self.reporter = reporter
        self._log_fn = log
        self._queue: queue.Queue[tuple[Task, Event] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._desktop_missing_logged = False
        #: Running programs and the threads that reap them.
        self._running: dict[subprocess.Popen[bytes], threading.Thread] = {}
        #: When ``close`` wants every program gone (``time.monotonic()``).
        self._close_by = float("inf")

    # -- the caller's side ---------------------------------------------------

    def state_changed(self, task: Task, event: Event) -> None:
        """Queue the notifications for ``event``; returns at once and never raises."""
        try:
            with self._lock:
                closed = self._closed
                if not closed:
                    if self._worker is None:
                        self._worker = threading.Thread(
                            target=self._work, name="tmux-codex-notify", daemon=True
                        )
                        self._worker.start()
                    # Copies: the caller may go on changing its objects.
                    self._queue.put((dataclasses.replace(task), dataclasses.replace(event)))
            if closed:
                self._log(f"notify: closed; dropped task {task.id} {event.to_state}")
        except Exception as exc:
            self._log(f"notify: cannot queue task {task.id} {event.to_state}: {exc!r}")

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then stop the worker, within about ``timeout`` seconds.

        Programs still running at the end of ``timeout`` are killed.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._close_by = deadline
            worker = self._worker
        if worker is not None:
            self._queue.put(None)
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                self._log(
                    f"notify: gave up after {timeout:g}s with about "
                    f"{self._queue.qsize()} notifications undelivered"
                )
        with self._lock:
            reapers = list(self._running.values())
        for thread in reapers:
            # A moment past the deadline: the reaper kills and reaps its program then.
            thread.join(max(0.0, deadline + 2 * _TICK - time.monotonic()))

    # -- the worker ----------------------------------------------------------

    def _log(self, text: str) -> None:
        with contextlib.suppress(Exception):
            self._log_fn(text)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._deliver(*item)

    def _deliver(self, task: Task, event: Event) -> None:
        sinks: list[tuple[str, Callable[[Task, Event], None]]] = []
        if self.config.tmux:
            sinks.append(("window name", self._mark_window))
        report = self.config.report and event.to_state in ENDED_STATES
        if event.to_state in NOTIFY_STATES or report:
            if self.config.tmux:
                sinks.append(("tmux message", self._display))
            if self.config.bell:
                sinks.append(("bell", self._bell))
            if self.config.desktop:
                sinks.append(("desktop notification", self._desktop))
            if self.config.command:
                sinks.append(("notify command", self._command))
        for label, sink in sinks:
            try:
                sink(task, event)
            except Exception as exc:
                self._log(f"notify: {label} for task {task.id} ({event.to_state}) failed: {exc}")

    # -- the sinks -----------------------------------------------------------

    def _mark_window(self, task: Task, event: Event) -> None:
        """Rename the task's window to show its state; a window that is gone is fine."""
        if not task.window_id:
            return
        name = literal(window_name(task.name, event.to_state))
        window = task.window_id
        Tmux(task.tmux_socket).run(
            "rename-window", "-t", window, "--", name, ";",
            "set-option", "-w", "-t", window, "automatic-rename", "off",
            check=False,
        )  # fmt: skip

    def _clients(self, task: Task) -> list[tuple[str, str]]:
        """``(name, tty)`` of every client of the task's tmux server."""
        lines = Tmux(task.tmux_socket).run(
            "list-clients", "-F", f"#{{client_name}}{_SEP}#{{client_tty}}", check=False
        )
        clients = []
        for line in lines:
            name, _, tty = line.partition(_SEP)
            if name:
                clients.append((name, tty))
        return clients

    def _display(self, task: Task, event: Event) -> None:
        """Show the message on the status line of every client, in one tmux call."""
        clients = self._clients(task)
        if not clients:
            return
        text = literal(message(task, event), strftime=True)
        args: list[str] = []
        for name, _tty in clients:
            args += ["display-message", "-c", literal(name, formats=False), "--", text, ";"]
        Tmux(task.tmux_socket).run(*args[:-1], check=False)

    def _bell(self, task: Task, event: Event) -> None:
        """Ring the terminal of every client."""
        for _name, tty in self._clients(task):
            if not tty:
                continue
            try:
                fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                with contextlib.suppress(OSError):
                    os.write(fd, b"\a")
            finally:
                os.close(fd)

    def _desktop(self, task: Task, event: Event) -> None:
        """``notify-send`` when it is installed; says once when it is not."""
        program = shutil.which("notify-send")
        if program is None:
            if not self._desktop_missing_logged:
                self._desktop_missing_logged = True
                self._log("notify: desktop notifications need notify-send, which is not installed")
            return
        summary = f"tmux-codex: {headline(task, event)}"
        body = html.escape(first_line(event.detail), quote=False)  # bodies may be markup
        self._spawn(
            "notify-send",
            [program, "-a", "tmux-codex", "--", summary, body],
            None,
            None,
            min(DESKTOP_TIMEOUT, self.command_timeout),
        )

    def _command(self, task: Task, event: Event) -> None:
        """The user's command, the event's JSON on its stdin."""
        payload = event_payload(task, event)
        if self.config.report and event.to_state in ENDED_STATES and self.reporter is not None:
            # A report reads the whole log and asks git: not on the sinks' worker.
            threading.Thread(
                target=self._command_with_report,
                args=(task, event, payload),
                name="tmux-codex-report",
                daemon=True,
            ).start()
            return
        self._run_command(task, event, payload)

    def _command_with_report(self, task: Task, event: Event, payload: dict[str, Any]) -> None:
        assert self.reporter is not None
        try:
            payload["report"] = self.reporter(task)
        except Exception as exc:
            self._log(f"notify: no report for task {task.id}: {exc}")
        try:
            self._run_command(task, event, payload)
        except Exception as exc:
            self._log(f"notify: notify command for task {task.id} failed: {exc}")

    def _run_command(self, task: Task, event: Event, payload: dict[str, Any]) -> None:
        data = (json.dumps(payload, ensure_ascii=False) + "\n").encode()
        env = {
            **os.environ,
            "TMUX_CODEX_TASK": str(task.id),
            "TMUX_CODEX_STATE": event.to_state,
        }
        self._spawn(
            "notify command",
            ["/bin/sh", "-c", self.config.command],
            data,
            env,
            self.command_timeout,
        )

    # -- programs ------------------------------------------------------------

    def _spawn(
        self,
        label: str,
        argv: list[str],
        data: bytes | None,
        env: dict[str, str] | None,
        timeout: float,
    ) -> None:
        """Start ``argv`` in its own session and leave it to a reaper thread."""
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        reaper = threading.Thread(
            target=self._reap,
            args=(label, proc, data, timeout),
            name=f"tmux-codex-notify-{proc.pid}",
            daemon=True,
        )
        with self._lock:
            self._running[proc] = reaper
        reaper.start()

    def _reap(
        self, label: str, proc: subprocess.Popen[bytes], data: bytes | None, timeout: float
    ) -> None:
        """Feed the program, wait for it at most ``timeout`` seconds, say how it ended."""
        own = time.monotonic() + timeout

        def deadline() -> float:
            return min(own, self._close_by)

        try:
            if data is not None and proc.stdin is not None:
                _feed(proc.stdin, data, deadline)
            while True:
                remaining = deadline() - time.monotonic()
                if remaining <= 0:
                    at_close = self._close_by < own
                    _terminate(proc, grace=0.0 if at_close else 1.0)
                    why = "notifier closed" if at_close else f"still running after {timeout:g}s"
                    self._log(f"notify: {label} killed: {why}")
                    return
                try:
                    code = proc.wait(timeout=min(remaining, _TICK))
                    break
                except subprocess.TimeoutExpired:
                    continue
            if code != 0:
                how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
                self._log(f"notify: {label} {how}")
        except Exception as exc:
            self._log(f"notify: {label}: {exc!r}")
        finally:
            with self._lock:
                self._running.pop(proc, None)


__all__ = [
    "DESKTOP_TIMEOUT",
    "ENDED_STATES",
    "NOTIFY_STATES",
    "WINDOW_MARKS",
    "Notifier",
    "event_payload",
    "message",
    "window_name",
]
