"""The fake model server on its own: scenarios, the wire format, the request log."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.codexbed import wait_until
from tmux_codex.sim import SCENARIOS, FakeModelServer
from tmux_codex.sim import scenarios as sc
from tmux_codex.sim.home import codex_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def output(call_id: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": "ok"}


def post(server: FakeModelServer, body: dict[str, Any], timeout: float = 10) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(
            "POST", "/v1/responses", json.dumps(body), {"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        try:
            data = resp.read()
        except http.client.IncompleteRead as exc:
            data = exc.partial
        return resp.status, data.decode()
    finally:
        conn.close()


def events(sse: str) -> list[dict[str, Any]]:
    out = []
    for block in sse.split("\n\n"):
        lines = block.strip().splitlines()
        if len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "):
            event = json.loads(lines[1][len("data: ") :])
            assert event["type"] == lines[0][len("event: ") :]
            out.append(event)
    return out


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    with FakeModelServer(0, request_log=tmp_path / "requests.jsonl") as srv:
        yield srv


def test_step_counts_tool_outputs_after_latest_user_message() -> None:
    body = {
        "input": [user("[scenario:approval-exec] a"), output("c1"), user("again"), output("c2")]
    }
    req = sc.parse(body)
    assert req.step == 1
    assert req.user_text == "again"
    assert sc.scenario_of(req, "complete") == "complete"  # no tag in the latest message
    assert sc.scenario_of(sc.parse({"input": [user("x [scenario:hang] y")]}), "complete") == "hang"
    assert (
        sc.scenario_of(sc.parse({"input": [user("[scenario:nope]")]}), "make-file") == "make-file"
    )
    assert sc.parse({}).step == 0


def test_every_scenario_answers_every_step() -> None:
    for name, scenario in SCENARIOS.items():
        for step in range(3):
            reply = scenario(sc.Request(step=step, user_text=f"[scenario:{name}]", body={}))
            assert isinstance(reply, (sc.Stream, sc.HttpError, sc.NoHeaders)), name


def test_complete_streams_a_message_and_usage(server: FakeModelServer) -> None:
    status, body = post(server, {"input": [user("[scenario:complete] hi")]})
    assert status == 200
    evs = events(body)
    assert [e["type"] for e in evs] == [
        "response.created",
        "response.output_item.done",
        "response.completed",
    ]
    assert evs[1]["item"]["content"][0]["text"] == sc.COMPLETE_TEXT
    assert evs[2]["response"]["usage"]["total_tokens"] == 1280


def test_two_step_scenario_is_stateless(server: FakeModelServer) -> None:
    first = events(post(server, {"input": [user("[scenario:approval-exec] go")]})[1])
    call = first[1]["item"]
    assert call["type"] == "function_call" and call["name"] == "exec_command"
    args = json.loads(call["arguments"])
    assert args["sandbox_permissions"] == "require_escalated"
    assert args["cmd"] == sc.APPROVAL_EXEC_CMD
    # The same request again gives the same step: nothing is remembered.
    again = events(post(server, {"input": [user("[scenario:approval-exec] go")]})[1])
    assert again[1]["item"]["name"] == "exec_command"
    done = events(
        post(
            server, {"input": [user("[scenario:approval-exec] go"), call, output(call["call_id"])]}
        )[1]
    )
    assert done[1]["item"]["content"][0]["text"] == sc.APPROVAL_EXEC_DONE


def test_title_request_gets_a_json_title(server: FakeModelServer) -> None:
    body = {
        "input": [user("Generate a concise, single-line task title ... [scenario:hang-headers]")],
        "text": {"format": {"type": "json_schema", "schema": {"properties": {"title": {}}}}},
    }
    status, sse = post(server, body)  # would hang forever if taken for a turn
    assert status == 200
    text = events(sse)[1]["item"]["content"][0]["text"]
    assert json.loads(text) == {"title": "Fake hang-headers task"}
    assert server.requests()[-1]["kind"] == "title"


@pytest.mark.parametrize(("scenario", "status"), [("http-500", 500), ("http-400", 400)])
def test_http_errors(server: FakeModelServer, scenario: str, status: int) -> None:
    got, body = post(server, {"input": [user(f"[scenario:{scenario}]")]})
    assert got == status
    assert scenario in json.loads(body)["error"]["message"]


def test_close_drops_the_stream_before_completion(server: FakeModelServer) -> None:
    status, body = post(server, {"input": [user("[scenario:close]")]})
    assert status == 200
    types = [e["type"] for e in events(body)]
    assert "response.output_text.delta" in types
    assert "response.completed" not in types


def test_slow_stream_sends_deltas(server: FakeModelServer) -> None:
    reply = sc.slow_stream(sc.Request(step=0, user_text="", body={}))
    assert isinstance(reply, sc.Stream)
    deltas = [e for _, e in reply.events if e["type"] == "response.output_text.delta"]
    assert len(deltas) > 10
    assert sum(d for d, _ in reply.events) == pytest.approx(sc.SLOW_STREAM_SECONDS)


@pytest.mark.parametrize("scenario", ["hang", "hang-headers"])
def test_hangs_hold_the_connection_and_release_it_on_stop(tmp_path: Path, scenario: str) -> None:
    srv = FakeModelServer(0, request_log=tmp_path / "r.jsonl").start()
    with pytest.raises(TimeoutError):
        post(srv, {"input": [user(f"[scenario:{scenario}]")]}, timeout=0.5)
    srv.stop()  # returns although a handler is still hanging
    wait_until(lambda: bool(srv.requests()), 30, what="the request logged")
    assert srv.requests()[0]["scenario"] == scenario


def test_request_log_records_each_body(server: FakeModelServer) -> None:
    post(server, {"input": [user("[scenario:complete] one")]})
    post(server, {"input": [user("[scenario:make-file] two"), output("c")]})
    logged = server.turns()
    assert [(r["scenario"], r["step"]) for r in logged] == [("complete", 0), ("make-file", 1)]
    assert logged[1]["body"]["input"][0]["content"][0]["text"] == "[scenario:make-file] two"
    assert (server.request_log is not None) and server.request_log.stat().st_mode & 0o777 == 0o600


def test_unknown_path_is_404_and_logged(server: FakeModelServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/v1/nothing")
    assert conn.getresponse().status == 404
    assert server.requests()[-1]["path"] == "/v1/nothing"


def test_unknown_default_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        FakeModelServer(0, default_scenario="nope")


def test_runs_as_a_module(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tmux_codex.sim", "0", "--log", str(log), "--scenario", "make-file"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("fake model server listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/v1/responses", json.dumps({"input": [user("no tag")]}))
        reply = events(conn.getresponse().read().decode())
        assert reply[1]["item"]["name"] == "exec_command"  # make-file is the default here
        wait_until(log.exists, 10, what="the request log")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_codex_config_is_valid_toml_with_trusted_projects(tmp_path: Path) -> None:
    weird = tmp_path / 'dir with "quotes" and ünïcode'
    text = codex_config("http://127.0.0.1:9/v1", trusted=[weird])
    parsed = tomllib.loads(text)
    assert parsed["model_providers"]["mock"]["base_url"] == "http://127.0.0.1:9/v1"
    assert parsed["model_providers"]["mock"]["wire_api"] == "responses"
    assert parsed["projects"][str(weird)]["trust_level"] == "trusted"
