"""Notification sinks: window marks, tmux messages, bell, desktop and the notify command.

Runs against a real tmux server (libtmux's ``server``/``session`` fixtures);
a real client is attached through a pseudo-terminal where one is needed.
Every wait polls with a timeout.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libtmux
import pytest

from tests.codexbed import wait_until
from tests.conftest import Client
from tmux_codex.core.config import NotifyConfig
from tmux_codex.core.models import Event, Task
from tmux_codex.monitor.notify import (
    NOTIFY_STATES,
    WINDOW_MARKS,
    Notifier,
    event_payload,
    message,
    window_name,
)
from tmux_codex.tmux.server import Tmux

WAIT = 30.0
#: Far below the 30 s a slow command sleeps: time past this means something waited for it.
NOT_BLOCKED = 20.0


def make_task(**extra: Any) -> Task:
    values: dict[str, Any] = {
        "id": 3,
        "name": "fix-tests",
        "state": "working",
        "mode": "tui",
        "workdir": "/src/project",
        "argv": ["codex"],
        "created_at": "2024-01-01T00:00:00.000000Z",
        "updated_at": "2024-01-01T00:00:00.000000Z",
        "log_path": "/logs/3.log",
        **extra,
    }
    return Task(**values)


def make_event(to_state: str, **extra: Any) -> Event:
    values: dict[str, Any] = {
        "task": 3,
        "at": "2024-01-01T00:00:01.000000Z",
        "from_state": "working",
        "to_state": to_state,
        **extra,
    }
    return Event(**values)


class Log:
    """Collects what a Notifier logs, from any thread."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@pytest.fixture
def log() -> Log:
    return Log()


MakeNotifier = Callable[..., Notifier]


@pytest.fixture
def notifier(log: Log) -> Iterator[MakeNotifier]:
    """Makes Notifiers that log to ``log``; closes them after the test."""
    made: list[Notifier] = []

    def make(command_timeout: float = 30.0, **config: Any) -> Notifier:
        values: dict[str, Any] = {"tmux": False, **config}
        made.append(Notifier(NotifyConfig(**values), log, command_timeout=command_timeout))
        return made[-1]

    yield make
    for each in made:
        each.close(timeout=5.0)


@pytest.fixture
def window_id(session: libtmux.Session) -> str:
    window = session.new_window(window_name="plain", attach=False)
    assert window.window_id is not None
    return window.window_id


def window_option(server: libtmux.Server, window: str, fmt: str) -> str:
    out = Tmux(str(server.socket_name)).run("display-message", "-p", "-t", window, fmt)
    return out[0] if out else ""


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended and been reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# -- pure functions -----------------------------------------------------------


def test_window_name_marks_each_state() -> None:
    assert window_name("fix-tests", "waiting") == "! fix-tests"
    assert window_name("fix-tests", "working") == "~ fix-tests"
    assert window_name("fix-tests", "done") == "✓ fix-tests"
    assert window_name("fix-tests", "idle") == "· fix-tests"
    assert window_name("fix-tests", "lost") == "? fix-tests"
    assert window_name("fix-tests", "queued") == "fix-tests"  # no mark
    assert window_name("a#{b}#", "failed") == "✗ a#{b}#"  # pure: escaping is tmux's business
    assert set(WINDOW_MARKS) >= NOTIFY_STATES


def test_message_is_one_line_with_reason_and_detail() -> None:
    task = make_task()
    event = make_event("waiting", reason="approval", detail="\n echo hi \nsecond line")
    assert message(task, event) == "tmux-codex: task 3 (fix-tests) waiting: approval — echo hi"
    assert message(task, make_event("done")) == "tmux-codex: task 3 (fix-tests) done"
    done = make_event("done", detail="codex exited with status 0")
    assert message(task, done) == "tmux-codex: task 3 (fix-tests) done — codex exited with status 0"


def test_message_truncates_and_keeps_hashes_and_controls_out() -> None:
    long = message(make_task(), make_event("failed", detail="x" * 500))
    assert "\n" not in long
    detail = long.split(" — ", 1)[1]
    assert len(detail) <= 120 and detail.endswith("…")
    odd = make_task(name="a#{b}\x1b[31m\nc")
    text = message(odd, make_event("stalled", detail="#[fg=red] #{pane_id}\tx"))
    assert text == "tmux-codex: task 3 (a#{b} [31m c) stalled — #[fg=red] #{pane_id} x"


def test_event_payload_adds_the_task() -> None:
    task = make_task(window_id="@7")
    event = make_event("waiting", reason="approval", detail="ls")
    assert event_payload(task, event) == {
        **event.to_dict(),
        "name": "fix-tests",
        "workdir": "/src/project",
        "window_id": "@7",
        "mode": "tui",
    }
    json.dumps(event_payload(task, event))  # serialisable


# -- window marks ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["fix-tests", "a#{session_name}## b;", "-x"])
def test_window_name_follows_state(
    server: libtmux.Server, window_id: str, notifier: MakeNotifier, name: str
) -> None:
    task = make_task(name=name, tmux_socket=str(server.socket_name), window_id=window_id)
    n = notifier(tmux=True)
    n.state_changed(task, make_event("waiting"))

    def named(expected: str) -> Callable[[], bool]:
        return lambda: window_option(server, window_id, "#{window_name}") == expected

    wait_until(named(f"! {name}"), WAIT, what="the waiting mark")
    assert window_option(server, window_id, "#{automatic-rename}") == "0"
    n.state_changed(task, make_event("working", from_state="waiting"))
    wait_until(named(f"~ {name}"), WAIT, what="the working mark")


def test_window_marks_off_without_tmux_and_gone_windows_are_fine(
    server: libtmux.Server, window_id: str, notifier: MakeNotifier, log: Log
) -> None:
    socket = str(server.socket_name)
    n = notifier(tmux=False)
    n.state_changed(make_task(tmux_socket=socket, window_id=window_id), make_event("waiting"))
    n.close()
    assert window_option(server, window_id, "#{window_name}") == "plain"

    m = notifier(tmux=True)
    m.state_changed(make_task(tmux_socket=socket, window_id="@9999"), make_event("waiting"))
    m.state_changed(make_task(tmux_socket=socket, window_id=None), make_event("waiting"))
    m.state_changed(make_task(tmux_socket=socket, window_id=window_id), make_event("done"))
    wait_until(lambda: window_option(server, window_id, "#{window_name}") == "✓ fix-tests", WAIT)
    m.close()
    assert log.lines == []


# -- tmux messages and the bell ---------------------------------------------------


def test_message_and_bell_reach_every_client(
    server: libtmux.Server, window_id: str, client: Client, notifier: MakeNotifier, log: Log
) -> None:
    tmux = Tmux(str(server.socket_name))
    task = make_task(
        name="x#{session_name};", tmux_socket=str(server.socket_name), window_id=window_id
    )
    event = make_event("waiting", reason="approval", detail="echo #{pane_id} ##;")
    text = message(task, event)
    bells = client.output.count(b"\a")
    n = notifier(tmux=True, bell=True)
    n.state_changed(task, event)
    # tmux logs each client's message as it was shown: formats were not expanded.
    wait_until(
        lambda: any(line.endswith(f"message: {text}") for line in tmux.run("show-messages")),
        WAIT,
        what="the message in tmux's message log",
    )
    wait_until(lambda: client.output.count(b"\a") > bells, WAIT, what="the bell")
    n.close()
    assert log.lines == []


def test_no_message_or_bell_for_other_states(
    server: libtmux.Server, window_id: str, client: Client, notifier: MakeNotifier
) -> None:
    tmux = Tmux(str(server.socket_name))
    task = make_task(tmux_socket=str(server.socket_name), window_id=window_id)
    bells = client.output.count(b"\a")
    n = notifier(tmux=True, bell=True)
    n.state_changed(task, make_event("working", detail="quiet-marker"))
    wait_until(lambda: window_option(server, window_id, "#{window_name}") == "~ fix-tests", WAIT)
    n.close()
    assert not any("quiet-marker" in line for line in tmux.run("show-messages"))
    assert client.output.count(b"\a") == bells


def test_message_without_clients_is_fine(
    server: libtmux.Server, window_id: str, notifier: MakeNotifier, log: Log
) -> None:
    task = make_task(tmux_socket=str(server.socket_name), window_id=window_id)
    n = notifier(tmux=True, bell=True)
    n.state_changed(task, make_event("failed", detail="boom"))
    wait_until(lambda: window_option(server, window_id, "#{window_name}") == "✗ fix-tests", WAIT)
    n.close()
    assert log.lines == []


# -- the notify command -------------------------------------------------------------


def test_command_gets_the_event_as_json(tmp_path: Path, notifier: MakeNotifier, log: Log) -> None:
    out = tmp_path / "events.jsonl"
    env = tmp_path / "env.txt"
    command = f"cat >> '{out}'; echo \"$TMUX_CODEX_TASK $TMUX_CODEX_STATE\" >> '{env}'"
    n = notifier(command=command)
    task = make_task(window_id="@4")
    n.state_changed(task, make_event("working"))  # not a notify state: no command
    n.state_changed(task, make_event("waiting", reason="approval", detail="echo hi\nnext"))
    wait_until(lambda: len(lines_of(env)) == 1, WAIT, what="the notify command")
    n.close()
    [line] = lines_of(out)
    payload = json.loads(line)
    assert payload["task"] == 3
    assert payload["to"] == "waiting"
    assert payload["from"] == "working"
    assert payload["reason"] == "approval"
    assert payload["detail"] == "echo hi\nnext"
    assert payload["name"] == "fix-tests"
    assert payload["window_id"] == "@4"
    assert out.read_text().endswith("}\n")
    assert lines_of(env) == ["3 waiting"]
    assert log.lines == []


def test_failing_and_slow_commands_do_not_block(
    tmp_path: Path, notifier: MakeNotifier, log: Log
) -> None:
    out = tmp_path / "done.jsonl"
    pid_file = tmp_path / "slow.pid"
    command = (
        'case "$TMUX_CODEX_STATE" in '
        "failed) exit 3 ;; "
        f"stalled) echo $$ > '{pid_file}'; exec sleep 30 ;; "
        f"*) cat >> '{out}' ;; "
        "esac"
    )
    n = notifier(command=command, command_timeout=0.5)
    task = make_task()
    # The slow one never reads its stdin, and its payload is larger than a pipe buffer.
    n.state_changed(task, make_event("stalled", detail="y" * 1_000_000))
    n.state_changed(task, make_event("failed"))
    started = time.monotonic()
    n.state_changed(task, make_event("done"))
    wait_until(lambda: len(lines_of(out)) == 1, WAIT, what="the next notification's command")
    assert time.monotonic() - started < NOT_BLOCKED
    wait_until(lambda: log.has("notify command exited with status 3"), WAIT)
    wait_until(lambda: log.has("notify command killed: still running after 0.5s"), WAIT)
    pid = int(pid_file.read_text())
    wait_until(lambda: gone(pid), WAIT, what="the slow command gone")
    started = time.monotonic()
    n.close()
    assert time.monotonic() - started < NOT_BLOCKED


def test_close_kills_commands_still_running(
    tmp_path: Path, notifier: MakeNotifier, log: Log
) -> None:
    pid_file = tmp_path / "slow.pid"
    n = notifier(command=f"echo $$ > '{pid_file}'; exec sleep 30", command_timeout=60)
    n.state_changed(make_task(), make_event("idle"))
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", WAIT)
    started = time.monotonic()
    n.close(timeout=0.5)
    assert time.monotonic() - started < NOT_BLOCKED
    wait_until(lambda: log.has("notify command killed: notifier closed"), WAIT)
    pid = int(pid_file.read_text())
    wait_until(lambda: gone(pid), WAIT, what="the command gone")


def test_state_changed_after_close_is_dropped(notifier: MakeNotifier, log: Log) -> None:
    n = notifier(command="true")
    n.close()
    n.close()  # twice is fine
    n.state_changed(make_task(), make_event("done"))
    assert log.has("dropped task 3 done")


# -- failures ------------------------------------------------------------------------


def test_a_raising_sink_does_not_stop_the_others_or_the_worker(
    server: libtmux.Server,
    window_id: str,
    tmp_path: Path,
    notifier: MakeNotifier,
    log: Log,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "events.jsonl"
    n = notifier(tmux=True, command=f"cat >> '{out}'")

    def broken(task: Task, event: Event) -> None:
        raise RuntimeError("the tmux message broke")

    monkeypatch.setattr(n, "_display", broken)
    gone = make_task(id=1, tmux_socket=f"{server.socket_name}-nonexistent", window_id="@1")
    n.state_changed(gone, make_event("waiting", task=1))
    task = make_task(tmux_socket=str(server.socket_name), window_id=window_id)
    n.state_changed(task, make_event("done"))
    wait_until(lambda: window_option(server, window_id, "#{window_name}") == "✓ fix-tests", WAIT)
    wait_until(lambda: len(lines_of(out)) == 2, WAIT, what="both commands")
    # Each command is a process of its own: they may append in either order.
    assert sorted(json.loads(line)["task"] for line in lines_of(out)) == [1, 3]
    assert log.has("notify: tmux message for task 1 (waiting) failed: the tmux message broke")


def test_a_raising_log_does_not_stop_the_worker(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"

    def bad_log(line: str) -> None:
        raise RuntimeError("log broke")

    n = Notifier(NotifyConfig(tmux=False, command=f"cat >> '{out}'; exit 1"), bad_log)
    for state in ("failed", "done"):
        n.state_changed(make_task(), make_event(state))
    wait_until(lambda: len(lines_of(out)) == 2, WAIT, what="both commands")
    n.close()


# -- desktop notifications ------------------------------------------------------------


def test_desktop_notification_uses_notify_send(
    tmp_path: Path, notifier: MakeNotifier, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    args_file = tmp_path / "args.txt"
    fake = bin_dir / "notify-send"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{args_file}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    n = notifier(desktop=True)
    n.state_changed(make_task(), make_event("working"))
    n.state_changed(make_task(), make_event("waiting", reason="approval", detail="cat <x> & y"))
    wait_until(lambda: len(lines_of(args_file)) == 5, WAIT, what="notify-send")
    n.close()
    assert lines_of(args_file) == [
        "-a",
        "tmux-codex",
        "--",
        "tmux-codex: task 3 (fix-tests) waiting: approval",
        "cat &lt;x&gt; &amp; y",
    ]
    assert log.lines == []


def test_desktop_without_notify_send_says_so_once(
    tmp_path: Path, notifier: MakeNotifier, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    n = notifier(desktop=True)
    for state in ("waiting", "done"):
        n.state_changed(make_task(), make_event(state))
    n.close()
    assert len(log.lines) == 1
    assert "notify-send" in log.lines[0]
