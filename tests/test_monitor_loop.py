"""The loop guard, driven by bytes alone (no tmux, no Codex)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tmux_codex.config import Config
from tmux_codex.monitor import Monitor, Track
from tmux_codex.store import Store
from tmux_codex.tasks import Context

STEP = (
    b"\x1b[1m$ echo still trying the very same thing\x1b[0m\r\n"
    b"  still trying the very same thing\r\n"
)
LOOPED = STEP * 6  # a two-line block, six times over
GAVE_UP = b"Gave up after trying the same thing over and over.\r\n"


def monitor_with_task(tmp_path: Path, state: str) -> tuple[Monitor, Any]:
    store = Store(tmp_path / "home")
    values = {"state": state, "mode": "exec", "workdir": "/w", "argv": ["codex"]}
    values["log_path"] = str(store.home / "logs" / "{id}.log")
    task = store.add_task(values, "looper", "looper")
    return Monitor(Context(store=store, config=Config(), socket="unused")), task


def loop_events(monitor: Monitor, task_id: int) -> list[str]:
    return [
        e.detail or ""
        for e in monitor.store.events(task_id)
        if (e.detail or "").startswith("looping:")
    ]


def test_a_loop_followed_by_more_in_the_same_read_is_seen_once(tmp_path: Path) -> None:
    monitor, task = monitor_with_task(tmp_path, "working")
    track = Track(state=task.state, mode=task.mode)
    try:
        monitor._watch_loop(task, track, LOOPED + GAVE_UP, 1.0)
        assert len(loop_events(monitor, task.id)) == 1
        assert "times in a row" in loop_events(monitor, task.id)[0]
        # The loop broke off; the same lines again are one more loop, not the same one.
        monitor._watch_loop(task, track, LOOPED, 2.0)
        assert len(loop_events(monitor, task.id)) == 2
        # Still the same block: nothing new.
        monitor._watch_loop(task, track, LOOPED, 3.0)
        assert len(loop_events(monitor, task.id)) == 2
    finally:
        monitor.actions.shutdown()
        monitor.store.close()


def test_different_lines_are_no_loop(tmp_path: Path) -> None:
    monitor, task = monitor_with_task(tmp_path, "working")
    track = Track(state=task.state, mode=task.mode)
    try:
        text = b"".join(f"compiling module number {n:c}\r\n".encode() for n in range(65, 90))
        monitor._watch_loop(task, track, text, 1.0)
        assert loop_events(monitor, task.id) == []
    finally:
        monitor.actions.shutdown()
        monitor.store.close()


def test_what_an_ended_task_printed_last_is_weighed(tmp_path: Path) -> None:
    """The shim may record ``done`` before the monitor read the loop: it is still found."""
    monitor, task = monitor_with_task(tmp_path, "done")
    Path(task.log_path).parent.mkdir(parents=True, exist_ok=True)
    Path(task.log_path).write_bytes(LOOPED + GAVE_UP)
    monitor.tracks[task.id] = Track(state="working", mode=task.mode)
    try:
        monitor._handle({task.id}, set())
        assert len(loop_events(monitor, task.id)) == 1
    finally:
        monitor.actions.shutdown()
        monitor.store.close()
