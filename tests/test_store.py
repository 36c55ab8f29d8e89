"""The task store: schema, concurrency, events, permissions."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tmux_codex.core.database import StoreTooNew
from tmux_codex.core.errors import DiskFull
from tmux_codex.core.models import LIVE_STATES
from tmux_codex.core.schema import MIGRATIONS
from tmux_codex.core.store import NameTaken, Store


def fields(**extra: Any) -> dict[str, Any]:
    return {
        "state": "starting",
        "mode": "exec",
        "workdir": "/w",
        "argv": ["codex", "x"],
        "log_path": "/logs/{id}.log",
        **extra,
    }


def test_new_store_is_private_wal_and_versioned(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store(home) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert home.stat().st_mode & 0o777 == 0o700
    assert (home / "logs").stat().st_mode & 0o777 == 0o700
    assert (home / "tasks.db").stat().st_mode & 0o777 == 0o600
    with Store(home) as again:  # reopening migrates nothing and loses nothing
        assert again.tasks() == []


def test_add_task_names_and_log_path(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        a = store.add_task(fields(), None, "fix-tests")
        b = store.add_task(fields(), None, "fix-tests")
        c = store.add_task(fields(), "mine", "ignored")
        assert (a.name, b.name, c.name) == ("fix-tests", f"fix-tests-{b.id}", "mine")
        assert a.log_path == f"/logs/{a.id}.log"
        assert a.argv == ["codex", "x"]
        with pytest.raises(NameTaken):
            store.add_task(fields(), "mine", "x")
        assert [e.to_state for e in store.events(a.id)] == ["starting"]


def test_set_state_records_events_only_on_change(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        t = store.add_task(fields(), None, "t")
        assert store.set_state(t.id, "working")
        assert not store.set_state(t.id, "working")
        assert store.set_state(t.id, "waiting", reason="approval", detail="$ ls", by="monitor")
        assert not store.set_state(t.id, "done", only_from=frozenset({"working"}))
        assert store.set_state(t.id, "killed", by="user", only_from=LIVE_STATES)
        events = [e.to_dict() for e in store.events(t.id)]
        assert [(e["from"], e["to"], e["reason"], e["by"]) for e in events] == [
            (None, "starting", None, "user"),
            ("starting", "working", None, "monitor"),
            ("working", "waiting", "approval", "monitor"),
            ("waiting", "killed", None, "user"),
        ]
        assert store.get(t.id).state == "killed"  # type: ignore[union-attr]


def _add_many(home: str, n: int) -> list[int]:
    with Store(Path(home)) as store:
        return [store.add_task(fields(), None, "c").id for _ in range(n)]


def test_concurrent_writers_from_many_processes(tmp_path: Path) -> None:
    Store(tmp_path).close()
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = pool.starmap(_add_many, [(str(tmp_path), 5)] * 8)
    ids = [i for r in results for i in r]
    assert len(ids) == len(set(ids)) == 40
    db = sqlite3.connect(tmp_path / "tasks.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(DISTINCT name) FROM tasks").fetchone()[0] == 40
    db.close()


def _open_new(home: str, go: Any) -> str:
    go.wait()
    try:
        Store(Path(home)).close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def test_many_processes_open_a_new_store_at_once(tmp_path: Path) -> None:
    """None of them sees "database is locked" while another turns WAL on or migrates."""
    spawn = multiprocessing.get_context("spawn")
    for round_ in range(3):
        home = tmp_path / f"home{round_}"
        with spawn.Manager() as manager:
            go = manager.Event()
            with spawn.Pool(12) as pool:
                pending = pool.starmap_async(_open_new, [(str(home), go)] * 12)
                go.set()
                assert pending.get(timeout=120) == ["ok"] * 12


def test_delete_removes_events(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        t = store.add_task(fields(), None, "t")
        store.delete(t.id)
        assert store.get(t.id) is None and store.events(t.id) == []


def test_a_store_from_a_newer_tmux_codex_is_refused_and_left_alone(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.add_task(fields(), None, "t")
    db = sqlite3.connect(tmp_path / "tasks.db")
    db.execute("ALTER TABLE tasks ADD COLUMN from_the_future TEXT")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(StoreTooNew) as refused:
        Store(tmp_path)
    assert str(refused.value) == (
        f"the store {tmp_path / 'tasks.db'} was made by a newer tmux-codex (schema "
        f"{len(MIGRATIONS) + 1}, this one knows {len(MIGRATIONS)}): upgrade tmux-codex or "
        "use another TMUX_CODEX_HOME"
    )
    assert refused.value.exit_code == 2
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before


def test_a_full_store_is_one_error_and_undoes_the_write(tmp_path: Path) -> None:
    """SQLite's own SQLITE_FULL, reached with ``max_page_count`` (no full disk needed)."""
    with Store(tmp_path) as store:
        first = store.add_task(fields(), None, "t")
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages}")
        big = fields(prompt="x" * 200_000)
        with pytest.raises(DiskFull) as full:
            store.add_task(big, None, "big")
        assert str(full.value) == (
            f"the state directory's disk is full ({tmp_path}: database or disk is full): "
            "free space and retry"
        )
        assert not store.db.in_transaction  # rolled back, not left open
        assert [t.id for t in store.tasks()] == [first.id]
        assert [e.task for e in store.events()] == [first.id]
        store.db.execute(f"PRAGMA max_page_count = {pages * 1000}")
        assert store.add_task(big, None, "big").name == "big"  # usable again


def test_nested_transactions_are_savepoints(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        with store.transaction():
            kept = store.add_task(fields(), None, "kept")
            with pytest.raises(NameTaken):
                store.add_task(fields(), "kept", "x")  # undone alone
            store.update(kept.id, state="working")
        assert [(t.name, t.state) for t in store.tasks()] == [("kept", "working")]
        with pytest.raises(RuntimeError), store.transaction():
            store.add_task(fields(), None, "gone")
            store.set_state(kept.id, "done")
            raise RuntimeError("the outer one fails")
        assert [(t.name, t.state) for t in store.tasks()] == [("kept", "working")]
        assert [e.to_state for e in store.events()] == ["starting"]
