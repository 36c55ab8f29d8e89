"""The monitor's stages that write: act (the monitor's writes, the policies' workers) and
notify's feed (the store's state changes, once each), each alone on a store in a
temporary directory. No tmux, no Codex; a worker's end is polled for, never slept on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.codexbed import wait_until
from tests.test_monitor_stages import CONFIG, SESSION
from tmux_codex.core.models import Task
from tmux_codex.core.paths import notified_path
from tmux_codex.core.store import Store
from tmux_codex.monitor import decide, read
from tmux_codex.monitor.act import Actor, duration
from tmux_codex.monitor.changes import Feed
from tmux_codex.monitor.track import Track
from tmux_codex.tasks.context import Context


def stored_task(store: Store, **extra: Any) -> Task:
    values: dict[str, Any] = {"state": "working", "mode": "tui", "workdir": "/w", "argv": ["c"]}
    values["log_path"] = str(store.home / "logs" / "{id}.log")
    values.update(extra)
    return store.add_task(values, None, "task")


# -- act: the monitor's writes and the workers ----------------------------------------------


def actor_for(tmp_path: Path, now: list[float]) -> tuple[Actor, Store, list[str], list[int]]:
    store = Store(tmp_path / "home")
    lines: list[str] = []
    ended: list[int] = []
    ctx = Context(store=store, config=CONFIG, socket="tmux-codex-test-none")
    actor = Actor(ctx, decide.Book(), lines.append, ended.append, lambda: now[0])
    return actor, store, lines, ended


def test_act_records_notes_plans_stalls_loops_and_sessions(tmp_path: Path) -> None:
    now = [500.0]
    actor, store, lines, _ended = actor_for(tmp_path, now)
    try:
        task = stored_task(store)
        track = Track(state="working", mode="tui", poked=True)
        actor.apply(decide.Note(task.id, "waits for a person"))
        actor.apply(decide.PlanResume(task.id, 5.0, task.name))
        assert actor.book.resume_due == {task.id: 505.0}
        actor.stall(task.id, track)
        assert track.state == "stalled" and not track.poked
        actor.record_loop(task, read.Loop(2, 4, "$ make check"))
        actor.record_session(task, track, SESSION)
        events = [(e.to_state, e.by, e.detail) for e in store.events(task.id)]
        assert ("working", "policy", "waits for a person") in events
        assert ("stalled", "monitor", "no output for 5m while working") in events
        assert any((d or "").startswith("looping: the same 2-line block") for _, _, d in events)
        assert store.get(task.id).codex_session_id == SESSION  # type: ignore[union-attr]
        assert f"task {task.id} (task): resuming in 5s (max_resumes)" in lines
        actor.poke(task.id, track)  # stalled, but no window: logged, never raised
        assert track.poked and any("could not poke" in line for line in lines)
    finally:
        actor.shutdown()
        store.close()


def test_a_stall_the_store_no_longer_agrees_with_is_not_written(tmp_path: Path) -> None:
    actor, store, _lines, _ended = actor_for(tmp_path, [0.0])
    try:
        task = stored_task(store, state="idle")
        track = Track(state="working", mode="tui")
        actor.stall(task.id, track)
        assert track.state == "idle" and store.get(task.id).state == "idle"  # type: ignore[union-attr]
    finally:
        actor.shutdown()
        store.close()


def test_a_failed_action_is_logged_and_hands_the_task_back(tmp_path: Path) -> None:
    actor, store, lines, ended = actor_for(tmp_path, [0.0])
    try:
        task = stored_task(store, state="stalled")
        actor.apply(decide.Kill(task.id, "stalled for 900s"))
        wait_until(lambda: ended == [task.id], 30, interval=0.02, what="the worker to end")
        assert task.id not in actor.book.acting
        assert any(line.startswith(f"task {task.id}: policy kill failed") for line in lines)
    finally:
        actor.shutdown()
        store.close()


def test_durations_read_as_events_say_them() -> None:
    assert duration(300.0) == "5m" and duration(90.0) == "90s" and duration(0.5) == "0.5s"


# -- notify's feed: the store's state changes, once each -----------------------------------


def test_the_feed_gives_each_state_change_once_and_keeps_its_place(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    try:
        task = stored_task(store)
        feed = Feed(store)
        feed.start()  # nothing saved yet: from the store's last event on
        store.set_state(task.id, "waiting", reason="approval")
        store.audit(task.id, "pressed y", by="user")  # an action, not a change
        version = (store.data_version(), store.writes)
        got = [(t.state, e.to_state) for t, e in feed.changes(version)]
        assert got == [("waiting", "waiting")]
        store.set_state(task.id, "idle")
        assert list(feed.changes(version)) == []  # nobody wrote since, it says
        later = (store.data_version(), store.writes)
        assert [e.to_state for _, e in feed.changes(later)] == ["idle"]
        saved = json.loads(notified_path(store.home).read_text())["event"]
        assert saved == feed.last_event == store.last_event_id()
        # A restarted monitor goes on from there: a recent change not yet handed on comes.
        store.set_state(task.id, "working")
        again = Feed(store)
        again.start()
        assert [e.to_state for _, e in again.changes((-2, -2))] == ["working"]
    finally:
        store.close()


def test_a_feed_with_no_saved_place_starts_at_the_end(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    try:
        task = stored_task(store)
        store.set_state(task.id, "idle")
        feed = Feed(store)
        feed.start()
        assert list(feed.changes((-2, -2))) == []
    finally:
        store.close()
