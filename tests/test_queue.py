"""The queue on a real store, without tmux: who waits, who starts, who fails, in what order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tmux_codex.core.errors import NotPossible
from tmux_codex.core.store import Store
from tmux_codex.tasks import queue
from tmux_codex.tasks.slots import admission


def add(store: Store, state: str, after: list[int] | None = None, **extra: Any) -> int:
    fields = {
        "state": state,
        "mode": "exec",
        "workdir": "/w",
        "argv": ["codex"],
        "log_path": str(store.home / "{id}.log"),
        "after_ids": json.dumps(after or []),
        **extra,
    }
    return store.add_task(fields, None, "t").id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "home")


def test_no_limit_no_wait(store: Store) -> None:
    for _ in range(5):
        add(store, "working")
    assert admission(store, 0, ()) is None


def test_a_full_fleet_queues_and_a_queue_keeps_its_order(store: Store) -> None:
    add(store, "working")
    assert admission(store, 2, ()) is None
    add(store, "idle")
    assert admission(store, 2, ()) == "slot"
    waiting = add(store, "queued", reason="slot")
    store.set_state(1, "done")
    # A slot is free, but an older task waits for it: the new one goes behind.
    assert admission(store, 2, ()) == "slot"
    assert store.get(waiting) is not None


def test_after_waits_until_done_and_refuses_an_ended_dependency(store: Store) -> None:
    first = add(store, "working")
    assert admission(store, 0, (first,)) == "after"
    store.set_state(first, "done")
    assert admission(store, 0, (first,)) is None
    broken = add(store, "failed")
    with pytest.raises(NotPossible, match=f"task {broken}"):
        admission(store, 0, (first, broken))
    with pytest.raises(NotPossible, match="removed"):
        admission(store, 0, (999,))


def test_claim_starts_the_oldest_first_within_the_limit(store: Store) -> None:
    add(store, "working")
    queued = [add(store, "queued", reason="slot") for _ in range(4)]
    claim = queue.claim(store, 2)
    assert [t.id for t in claim.started] == queued[:1]
    assert store.get(queued[0]).state == "starting"  # type: ignore[union-attr]
    assert [store.get(i).state for i in queued[1:]] == ["queued"] * 3  # type: ignore[union-attr]
    assert queue.claim(store, 2).started == []  # both slots taken now
    assert queue.claimed_without_window(store) == [store.get(queued[0])]
    store.set_state(queued[0], "done")
    assert [t.id for t in queue.claim(store, 0).started] == queued[1:]


def test_a_failed_dependency_fails_the_chain(store: Store) -> None:
    first = add(store, "working")
    second = add(store, "queued", [first], reason="after")
    third = add(store, "queued", [second], reason="after")
    assert queue.claim(store, 0).started == []
    store.set_state(first, "failed")
    decided = queue.claim(store, 0)
    assert decided.failed == [second]
    task = store.get(second)
    assert task is not None and task.state == "failed" and f"task {first}" in (task.error or "")
    assert queue.claim(store, 0).failed == [third]  # and the next link, on the next pass
    assert store.events(second)[-1].by == "queue"


def test_a_ready_dependent_waits_for_a_slot_with_reason_slot(store: Store) -> None:
    first = add(store, "done")
    add(store, "working")
    waiting = add(store, "queued", [first], reason="after")
    assert queue.claim(store, 1).started == []
    task = store.get(waiting)
    assert task is not None and (task.state, task.reason) == ("queued", "slot")


def test_a_queued_task_is_json_with_its_after_list(store: Store) -> None:
    first = add(store, "working")
    waiting = add(store, "queued", [first], reason="after")
    data = store.get(waiting).to_dict()  # type: ignore[union-attr]
    assert (data["state"], data["reason"], data["after"]) == ("queued", "after", [first])
    assert data["worktree"] is None and data["tokens"] is None
    assert store.events(waiting)[0].detail == "queued"


def test_a_task_waiting_for_a_slot_survives_its_done_dependency_removed(store: Store) -> None:
    first = add(store, "done")
    add(store, "working")
    waiting = add(store, "queued", [first], reason="after")
    assert queue.claim(store, 1).started == []  # its dependency is done: now a slot
    assert store.delete(first)  # merged, then rm: the natural flow
    decided = queue.claim(store, 1)
    assert decided.failed == [] and store.get(waiting).state == "queued"  # type: ignore[union-attr]
    assert [t.id for t in queue.claim(store, 0).started] == [waiting]


def test_recovery_finds_every_claimed_task_without_a_window(store: Store) -> None:
    stuck = add(store, "queued", reason="slot")
    queue.claim(store, 0)
    store.set_state(stuck, "waiting", reason="approval", by="hook")  # a hook spoke meanwhile
    assert [t.id for t in queue.claimed_without_window(store)] == [stuck]
    plain = add(store, "starting")  # started by 'start', which records its window itself
    assert plain not in [t.id for t in queue.claimed_without_window(store)]


def test_a_resumed_task_waits_behind_those_queued_before_it(store: Store) -> None:
    """Oldest first means first into the queue: an old task resumed at the limit (its id
    is small) starts after the tasks that were waiting already."""
    old = add(store, "done")
    holder = add(store, "working")
    waiter = add(store, "queued", reason="slot")
    with store.transaction():  # as resume does at the limit
        assert admission(store, 1, ()) == "slot"
        store.set_state(old, "queued", reason="slot", by="user", only_from=frozenset({"done"}))
    store.set_state(holder, "done", by="shim")
    assert [t.id for t in queue.claim(store, 1).started] == [waiter]
    store.set_state(waiter, "done", by="shim")
    assert [t.id for t in queue.claim(store, 1).started] == [old]


def test_a_task_resumed_by_hand_since_is_not_the_queues_to_recover(store: Store) -> None:
    task = add(store, "queued", reason="slot")
    queue.claim(store, 0)  # the queue started it once
    store.update(task, window_id="@1")
    store.set_state(task, "done", by="shim")
    # Resumed by hand: 'starting', its window not recorded yet (resume opens it itself).
    store.set_state(task, "starting", by="user", detail="resumed Codex session x (attempt 2)")
    store.update(task, window_id=None)
    assert queue.claimed_without_window(store) == []
