"""The loop guard, driven by bytes alone (no tmux, no Codex)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tmux_codex.core.config import Config
from tmux_codex.core.store import Store
from tmux_codex.monitor.loop import Monitor, Track
from tmux_codex.monitor.read import loop_guard
from tmux_codex.tasks.context import Context

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


def guard(monitor: Monitor, task: Any, track: Track, data: bytes, clock: float) -> None:
    """The read stage's loop guard on ``data``; each loop it finds recorded, as the loop does."""
    for loop in loop_guard(track, data, clock, True):
        monitor.actor.record_loop(task, loop)


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
        guard(monitor, task, track, LOOPED + GAVE_UP, 1.0)
        assert loop_events(monitor, task.id) == [  # flagged at the 4th copy, as printed
            "looping: the same 2-line block 4 times in a row: "
            "$ echo still trying the very same thing"
        ]
        # The loop broke off; the same lines again are one more loop, not the same one.
        guard(monitor, task, track, LOOPED, 2.0)
        assert len(loop_events(monitor, task.id)) == 2
        # Still the same block: nothing new.
        guard(monitor, task, track, LOOPED, 3.0)
        assert len(loop_events(monitor, task.id)) == 2
    finally:
        monitor.actor.shutdown()
        monitor.store.close()


def test_different_lines_are_no_loop(tmp_path: Path) -> None:
    monitor, task = monitor_with_task(tmp_path, "working")
    track = Track(state=task.state, mode=task.mode)
    try:
        text = b"".join(f"compiling module number {n:c}\r\n".encode() for n in range(65, 90))
        guard(monitor, task, track, text, 1.0)
        assert loop_events(monitor, task.id) == []
    finally:
        monitor.actor.shutdown()
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
        monitor.actor.shutdown()
        monitor.store.close()


def _loop_guard(tmp_path: Path, state: str = "working") -> tuple[Monitor, Any, Track]:
    monitor, task = monitor_with_task(tmp_path, state)
    return monitor, task, Track(state=task.state, mode=task.mode)


def test_counters_that_go_up_are_progress_not_a_loop(tmp_path: Path) -> None:
    """Lines that differ only in their numbers: a download, a long job's steps, epochs."""
    monitor, task, track = _loop_guard(tmp_path)
    try:
        for step in range(200):
            lines = (
                f"progress line {step:06d}\r\n"
                f"epoch {step}/200: loss 0.{999 - step:03d}, 128 batches\r\n"
                f"Downloading part {step} of 200 (2.4 MB)\r\n"
            )
            guard(monitor, task, track, lines.encode(), float(step))
        assert loop_events(monitor, task.id) == []
        assert track.looping_since is None  # so kill_after has nothing to kill
    finally:
        monitor.actor.shutdown()
        monitor.store.close()


def test_a_loop_whose_timings_differ_is_a_loop_shown_as_printed(tmp_path: Path) -> None:
    """The same command again and again; only its run time (and the clock) changes."""
    monitor, task, track = _loop_guard(tmp_path)
    try:
        for n in range(6):
            step = (
                f"\x1b[1m/bin/bash -c 'cp /srv/data-2024/v1.2/x.csv /tmp/run-42/'\x1b[0m\r\n"
                f" succeeded in {n * 7 % 5}ms at 10:0{n}:1{n}:\r\n"
                f"  copied 1 file to /tmp/run-42/x.csv\r\n"
            )
            guard(monitor, task, track, step.encode(), float(n))
        found = loop_events(monitor, task.id)
        assert found == [
            "looping: the same 3-line block 4 times in a row: "
            "/bin/bash -c 'cp /srv/data-2024/v1.2/x.csv /tmp/run-42/'"
        ]
    finally:
        monitor.actor.shutdown()
        monitor.store.close()


def test_a_prompt_redrawn_while_waiting_is_no_loop(tmp_path: Path) -> None:
    """A TUI at an approval redraws its (wrapped) prompt: the monitor reads those bytes
    as a waiting task's and no loop is flagged; the same bytes while working would be."""
    prompt = (
        b"\x1b[5;1H  Would you like to run the following command?\r\n"
        b"  $ echo approved-command-ran > approval-exec.txt\r\n"
        b"\x1b[1m\xe2\x80\xba 1. Yes, proceed (y)\x1b[0m\r\n"
        b"  2. Yes, and don't ask again for commands that start with\r\n"
        b"  `echo approved-command-ran` (p)\r\n"
        b"  3. No, and tell Codex what to do differently (esc)\r\n"
    )
    monitor, task = monitor_with_task(tmp_path, "waiting")
    monitor.store.update(task.id, mode="tui", reason="approval")
    log = Path(task.log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(prompt * 12)
    monitor.tracks[task.id] = Track(state="waiting", mode="tui")
    try:
        monitor._handle({task.id}, set())
        assert loop_events(monitor, task.id) == []
        working = Track(state="working", mode="tui")
        guard(monitor, task, working, prompt * 12, 1.0)
        assert len(loop_events(monitor, task.id)) == 1
    finally:
        monitor.actor.shutdown()
        monitor.store.close()
