"""A fake OpenAI Responses API server, standard library only.

It answers ``POST /v1/responses`` with server-sent events as Codex expects,
played from a scenario (see :mod:`tmux_codex.sim.scenarios`), and appends
every request it receives to a JSON-lines file so tests can assert what Codex
sent.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tmux_codex.sim.scenarios import (
    SCENARIOS,
    HttpError,
    NoHeaders,
    Reply,
    Stream,
    is_title_request,
    parse,
    scenario_of,
    title_reply,
)

#: The longest a hanging reply holds its connection before giving up.
HANG_LIMIT_SECONDS = 3600.0


class _Handler(BaseHTTPRequestHandler):
    server: FakeModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log is the record."""

    # -- plumbing ---------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- verbs --------------------------------------------------------------

    def do_GET(self) -> None:
        self.server.record({"method": "GET", "path": self.path})
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(
                200, {"object": "list", "data": [{"id": "mock-model", "object": "model"}]}
            )
        else:
            self._send_json(404, {"error": {"message": f"no such path: {self.path}"}})

    def do_POST(self) -> None:
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        if not isinstance(body, dict):
            body = {"_unparsed": body}
        if not self.path.split("?")[0].rstrip("/").endswith("/responses"):
            self.server.record({"method": "POST", "path": self.path, "body": body})
            self._send_json(404, {"error": {"message": f"no such path: {self.path}"}})
            return
        req = parse(body)
        scenario = scenario_of(req, self.server.default_scenario)
        if is_title_request(body):
            kind, reply = "title", title_reply(req, scenario)
        else:
            kind, reply = "turn", SCENARIOS[scenario](req)
        self.server.record(
            {
                "method": "POST",
                "path": self.path,
                "kind": kind,
                "scenario": scenario,
                "step": req.step,
                "body": body,
            }
        )
        self._play(reply)

    # -- replies --------------------------------------------------------------

    def _play(self, reply: Reply) -> None:
        if isinstance(reply, NoHeaders):
            self.server.stopping.wait(HANG_LIMIT_SECONDS)
            self.close_connection = True
            return
        if isinstance(reply, HttpError):
            self._send_json(
                reply.status,
                {"error": {"message": reply.message, "type": reply.code, "code": reply.code}},
            )
            return
        assert isinstance(reply, Stream)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for delay, event in reply.events:
                if delay and self.server.stopping.wait(delay):
                    return
                chunk = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                self.wfile.write(chunk.encode())
                self.wfile.flush()
            if reply.then == "hang":
                self.server.stopping.wait(HANG_LIMIT_SECONDS)
            elif reply.then == "close":
                # Drop the connection without completing the response.
                self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            pass


class FakeModelServer(ThreadingHTTPServer):
    """The fake model server; ``serve_forever`` in a thread, or use ``start``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        request_log: Path | None = None,
        default_scenario: str = "complete",
    ) -> None:
        if default_scenario not in SCENARIOS:
            raise ValueError(
                f"unknown scenario {default_scenario!r}; known: {', '.join(SCENARIOS)}"
            )
        super().__init__((host, port), _Handler)
        self.default_scenario = default_scenario
        self.request_log = request_log
        self.stopping = threading.Event()
        self._log_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give Codex's provider config."""
        return f"http://127.0.0.1:{self.port}/v1"

    def record(self, entry: dict[str, Any]) -> None:
        """Append one request to the request log (JSON lines)."""
        if self.request_log is None:
            return
        stamped = {"at": datetime.now(timezone.utc).isoformat(), **entry}
        line = json.dumps(stamped, ensure_ascii=False) + "\n"
        with self._log_lock:
            fd = os.open(self.request_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                data = line.encode()
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)

    def requests(self) -> list[dict[str, Any]]:
        """Every request logged so far, oldest first."""
        if self.request_log is None or not self.request_log.exists():
            return []
        with self.request_log.open(encoding="utf-8") as fh:
            # A line still being written (no newline yet) is left for the next call.
            return [json.loads(line) for line in fh if line.strip() and line.endswith("\n")]

    def turns(self) -> list[dict[str, Any]]:
        """The logged model requests that were turns (not title requests)."""
        return [r for r in self.requests() if r.get("kind") == "turn"]

    def start(self) -> FakeModelServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
