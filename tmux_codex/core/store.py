"""The task store: SQLite in WAL mode, safe for concurrent CLI calls.

Two tables, ``tasks`` and ``events``; the schema version is SQLite's
``user_version`` and each migration moves it up by one. Every write runs in a
``BEGIN IMMEDIATE`` transaction with a generous busy timeout, so many
``tmux-codex`` processes can write at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmux_codex.core.errors import DiskFull, TmuxCodexError, is_disk_full
from tmux_codex.core.models import Event, Task, now
from tmux_codex.core.paths import UnsafeDirectory, db_path, ensure_dir, logs_dir

BUSY_TIMEOUT_MS = 30_000

MIGRATIONS: tuple[str, ...] = (
    # 1: tasks and events
    """
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        reason TEXT,
        prompt_text TEXT,
        mode TEXT NOT NULL,
        workdir TEXT NOT NULL,
        argv TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_output_at TEXT,
        exit_code INTEGER,
        codex_session_id TEXT,
        window_id TEXT,
        pane_id TEXT,
        log_path TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        start_commit TEXT,
        last_message TEXT,
        error TEXT,
        tmux_socket TEXT NOT NULL DEFAULT '',
        tmux_session TEXT NOT NULL DEFAULT 'codex',
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        shim_pid INTEGER
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id INTEGER NOT NULL,
        at TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        reason TEXT,
        detail TEXT,
        by TEXT NOT NULL
    );
    CREATE INDEX events_task ON events (task_id, id);
    """,
    # 2: where the task's Codex keeps its sessions (to find its rollout file)
    """
    ALTER TABLE tasks ADD COLUMN codex_home TEXT;
    ALTER TABLE tasks ADD COLUMN prompt TEXT;
    """,
    # 3: signals from tmux-codex's Codex hooks
    """
    ALTER TABLE tasks ADD COLUMN hook_at TEXT;
    ALTER TABLE tasks ADD COLUMN hook_event TEXT;
    ALTER TABLE tasks ADD COLUMN hook_request TEXT;
    """,
    # 4: the Codex version the task runs (which screen patterns read it)
    """
    ALTER TABLE tasks ADD COLUMN codex_version TEXT;
    """,
)

_TASK_COLUMNS = (
    "id",
    "name",
    "state",
    "reason",
    "prompt_text",
    "mode",
    "workdir",
    "argv",
    "created_at",
    "updated_at",
    "last_output_at",
    "exit_code",
    "codex_session_id",
    "window_id",
    "pane_id",
    "log_path",
    "attempt",
    "start_commit",
    "last_message",
    "error",
    "tmux_socket",
    "tmux_session",
    "width",
    "height",
    "shim_pid",
    "codex_home",
    "prompt",
    "hook_at",
    "hook_event",
    "hook_request",
    "codex_version",
)
_UPDATABLE = frozenset(_TASK_COLUMNS) - {"id", "created_at"}


def _task(row: sqlite3.Row) -> Task:
    data = dict(row)
    data["argv"] = json.loads(data["argv"])
    return Task(**data)


class Store:
    """The store under a ``TMUX_CODEX_HOME`` directory."""

    def __init__(self, home: Path, busy_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.home = home
        path = db_path(home)
        self._savepoints = 0
        try:
            ensure_dir(home)
            ensure_dir(logs_dir(home))
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
            self.db = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None)
            self.writes = 0  # write transactions through this connection (see data_version)
        except (OSError, sqlite3.Error, UnsafeDirectory) as exc:
            if is_disk_full(exc):
                raise DiskFull(home, exc) from None
            raise StateDirError(
                f"cannot use state directory {home} (TMUX_CODEX_HOME): {exc}"
            ) from None
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
            self._check_version()  # before anything is written
            if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if is_disk_full(exc):
                raise DiskFull(home, exc) from None
            raise _unusable(path, exc) from None
        except BaseException as exc:
            self.db.close()
            if is_disk_full(exc) and not isinstance(exc, DiskFull):
                raise DiskFull(home, exc) from None
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def data_version(self) -> int:
        """Changes when another connection commits (SQLite's ``PRAGMA data_version``)."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; taken at once so concurrent writers queue.

        Inside another transaction of this store it is a savepoint: its writes
        are undone if it fails, and are kept only if the outer one commits.
        A full disk is :class:`DiskFull`; nothing of a failed transaction stays.
        """
        self.writes += 1
        if self.db.in_transaction:
            self._savepoints += 1
            name = f"nested_{self._savepoints}"
            self.db.execute(f"SAVEPOINT {name}")
            try:
                yield self.db
            except BaseException:
                self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
                raise
            self.db.execute(f"RELEASE {name}")
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # a failed COMMIT leaves it open
                    with contextlib.suppress(sqlite3.Error):
                        self.db.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            if is_disk_full(exc):
                raise DiskFull(self.home, exc) from None
            raise

    def _check_version(self) -> None:
        """Refuse a store that a newer tmux-codex made (it would be misread)."""
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StoreTooNew(
                f"the store {db_path(self.home)} was made by a newer tmux-codex (schema "
                f"{version}, this one knows {len(MIGRATIONS)}): upgrade tmux-codex or use "
                "another TMUX_CODEX_HOME"
            )

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            return
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
        for name in ("tasks.db-wal", "tasks.db-shm"):
            wal = self.home / name
            if wal.exists():
                wal.chmod(0o600)

    # -- tasks ------------------------------------------------------------

    def add_task(self, fields: dict[str, Any], name: str | None, default_name: str) -> Task:
        """Insert a task; ``name`` must be free, else ``default_name`` gets a suffix.

        ``log_path`` may contain ``{id}``, filled with the new task's id.
        """
        stamp = now()
        with self.transaction() as db:
            if (
                name is not None
                and db.execute("SELECT 1 FROM tasks WHERE name = ?", (name,)).fetchone()
            ):
                raise NameTaken(name)
            placeholder = name if name is not None else f"\0pending-{os.getpid()}-{stamp}"
            values = {
                **fields,
                "argv": json.dumps(fields["argv"]),
                "name": placeholder,
                "created_at": stamp,
                "updated_at": stamp,
            }
            cols = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cur = db.execute(f"INSERT INTO tasks ({cols}) VALUES ({marks})", list(values.values()))
            task_id = int(cur.lastrowid or 0)
            # Not str.format: the state directory's path may hold braces.
            log = str(fields["log_path"]).replace("{id}", str(task_id))
            updates: dict[str, Any] = {"log_path": log}
            if name is None:
                final = default_name
                if db.execute("SELECT 1 FROM tasks WHERE name = ?", (final,)).fetchone():
                    final = f"{default_name}-{task_id}"
                updates["name"] = final
            sets = ", ".join(f"{k} = ?" for k in updates)
            db.execute(f"UPDATE tasks SET {sets} WHERE id = ?", [*updates.values(), task_id])
            db.execute(
                "INSERT INTO events (task_id, at, from_state, to_state, reason, detail, by) "
                "VALUES (?, ?, NULL, ?, NULL, ?, 'user')",
                (task_id, stamp, fields["state"], "started"),
            )
        task = self.get(task_id)
        assert task is not None
        return task

    def get(self, task_id: int) -> Task | None:
        row = self.db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return _task(row) if row else None

    def by_name(self, name: str) -> Task | None:
        row = self.db.execute("SELECT * FROM tasks WHERE name = ?", (name,)).fetchone()
        return _task(row) if row else None

    def by_window(self, window_id: str) -> Task | None:
        row = self.db.execute(
            "SELECT * FROM tasks WHERE window_id = ? ORDER BY id DESC LIMIT 1", (window_id,)
        ).fetchone()
        return _task(row) if row else None

    def tasks(self, include_final: bool = True) -> list[Task]:
        sql = "SELECT * FROM tasks"
        if not include_final:
            sql += " WHERE state NOT IN ('done', 'failed', 'killed', 'lost')"
        return [_task(r) for r in self.db.execute(sql + " ORDER BY id")]

    def update(self, task_id: int, **fields: Any) -> None:
        """Set task fields (and ``updated_at``) without recording an event."""
        bad = set(fields) - _UPDATABLE
        if bad:
            raise KeyError(f"not task fields: {sorted(bad)}")
        fields["updated_at"] = now()
        if "argv" in fields:
            fields["argv"] = json.dumps(fields["argv"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE tasks SET {sets} WHERE id = ?", [*fields.values(), task_id])

    def set_state(
        self,
        task_id: int,
        state: str,
        *,
        reason: str | None = None,
        detail: str | None = None,
        by: str = "monitor",
        only_from: frozenset[str] | None = None,
        audit: bool = False,
        **fields: Any,
    ) -> bool:
        """Move a task to ``state``, recording an event when state or reason changes.

        With ``only_from``, nothing happens unless the task is in one of those
        states (checked inside the transaction). With ``audit`` the event is
        recorded even when nothing changed (a keystroke is always on record).
        Returns whether it changed.
        """
        stamp = now()
        with self.transaction() as db:
            row = db.execute("SELECT state, reason FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None:
                return False
            old_state, old_reason = row["state"], row["reason"]
            if only_from is not None and old_state not in only_from:
                return False
            values = {**fields, "state": state, "reason": reason, "updated_at": stamp}
            sets = ", ".join(f"{k} = ?" for k in values)
            db.execute(f"UPDATE tasks SET {sets} WHERE id = ?", [*values.values(), task_id])
            changed = (old_state, old_reason) != (state, reason)
            if changed or audit:
                db.execute(
                    "INSERT INTO events (task_id, at, from_state, to_state, reason, detail, by) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (task_id, stamp, old_state, state, reason, detail, by),
                )
            return changed

    def set_states(self, changes: list[StateChange], only_from: frozenset[str]) -> None:
        """Apply several observed state changes in one transaction (see ``set_state``)."""
        stamp = now()
        with self.transaction() as db:
            for change in changes:
                row = db.execute(
                    "SELECT state, reason, hook_at FROM tasks WHERE id = ?", (change.task_id,)
                ).fetchone()
                if row is None or row["state"] not in only_from:
                    continue
                if change.hook_at is not False and row["hook_at"] != change.hook_at:
                    continue  # a hook spoke since the look: the look is out of date
                values = {
                    **change.fields,
                    "state": change.state,
                    "reason": change.reason,
                    "updated_at": stamp,
                }
                sets = ", ".join(f"{k} = ?" for k in values)
                db.execute(
                    f"UPDATE tasks SET {sets} WHERE id = ?", [*values.values(), change.task_id]
                )
                if (row["state"], row["reason"]) != (change.state, change.reason):
                    db.execute(
                        "INSERT INTO events (task_id, at, from_state, to_state, reason, detail, by)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            change.task_id,
                            stamp,
                            row["state"],
                            change.state,
                            change.reason,
                            change.detail,
                            change.by,
                        ),
                    )

    def hook_signal(
        self,
        task_id: int,
        fields: dict[str, Any],
        requests: Callable[[str | None], str | None] | None = None,
        waiting: tuple[str, str] | None = None,
    ) -> bool:
        """What one of Codex's hooks says of a live task, in one transaction.

        ``requests`` turns the pending permission requests (``hook_request``)
        into the new ones; ``waiting`` (reason, prompt) makes the task
        ``waiting`` with an event ``by: "hook"``. Hooks of one task run side by
        side (two tool calls of a turn): the read and the write are one.
        Returns False when the task is gone or has ended.
        """
        stamp = now()
        with self.transaction() as db:
            row = db.execute(
                "SELECT state, reason, hook_request FROM tasks WHERE id = ?", (task_id,)
            ).fetchone()
            if row is None or row["state"] in ("done", "failed", "killed", "lost"):
                return False
            values = {**fields, "updated_at": stamp}
            if requests is not None:
                values["hook_request"] = requests(row["hook_request"])
            # Already waiting at another request of the turn: that prompt stays.
            change = waiting is not None and (row["state"] != "waiting" or not row["hook_request"])
            if waiting is not None and change:
                reason, prompt = waiting
                values.update(state="waiting", reason=reason, prompt_text=prompt, error=None)
            sets = ", ".join(f"{k} = ?" for k in values)
            db.execute(f"UPDATE tasks SET {sets} WHERE id = ?", [*values.values(), task_id])
            if waiting is not None and change:
                db.execute(
                    "INSERT INTO events (task_id, at, from_state, to_state, reason, detail, by) "
                    "VALUES (?, ?, ?, 'waiting', ?, ?, 'hook')",
                    (task_id, stamp, row["state"], waiting[0], waiting[1]),
                )
        return True

    def audit(self, task_id: int, detail: str, by: str = "user", once: bool = False) -> None:
        """Record an action on a task (a keystroke) without changing its state.

        With ``once``, nothing is recorded if the task has an event with that detail.
        """
        if once and self._has_event(task_id, detail):
            return  # no write transaction at all
        with self.transaction() as db:
            row = db.execute("SELECT state, reason FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None:
                return
            if (
                once
                and db.execute(
                    "SELECT 1 FROM events WHERE task_id = ? AND detail = ?", (task_id, detail)
                ).fetchone()
            ):
                return
            db.execute(
                "INSERT INTO events (task_id, at, from_state, to_state, reason, detail, by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (task_id, now(), row["state"], row["state"], row["reason"], detail, by),
            )

    def _has_event(self, task_id: int, detail: str) -> bool:
        sql = "SELECT 1 FROM events WHERE task_id = ? AND detail = ?"
        return self.db.execute(sql, (task_id, detail)).fetchone() is not None

    def delete(self, task_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM events WHERE task_id = ?", (task_id,))
            db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    # -- events -----------------------------------------------------------

    def session_ids(self) -> frozenset[str]:
        """Every Codex session id some task has (a session belongs to one task)."""
        rows = self.db.execute(
            "SELECT codex_session_id FROM tasks WHERE codex_session_id IS NOT NULL"
        )
        return frozenset(str(r[0]) for r in rows)

    def last_event_id(self) -> int:
        row = self.db.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)

    def events(self, task_id: int | None = None, after: int = 0) -> list[Event]:
        sql = "SELECT * FROM events WHERE id > ?"
        args: list[Any] = [after]
        if task_id is not None:
            sql += " AND task_id = ?"
            args.append(task_id)
        return [
            Event(
                id=r["id"],
                task=r["task_id"],
                at=r["at"],
                from_state=r["from_state"],
                to_state=r["to_state"],
                reason=r["reason"],
                detail=r["detail"],
                by=r["by"],
            )
            for r in self.db.execute(sql + " ORDER BY id", args)
        ]


@dataclass
class StateChange:
    """An observed state of a task, to be written with ``Store.set_states``."""

    task_id: int
    state: str
    reason: str | None = None
    detail: str | None = None
    by: str = "monitor"
    fields: dict[str, Any] = field(default_factory=dict)
    #: The task's ``hook_at`` the observation was made with; the change is dropped
    #: when a hook recorded something since (False: written whatever hooks said).
    hook_at: str | bool | None = False


class StateDirError(TmuxCodexError):
    """The state directory cannot be used (bad input: ``TMUX_CODEX_HOME`` names it)."""

    exit_code = 2


def _unusable(path: Path, exc: sqlite3.DatabaseError) -> StateDirError:
    """One line on why the store at ``path`` cannot be opened, and what to do."""
    text = str(exc)
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StateDirError(
            f"cannot write to the store {path}: {text} (is the state directory read-only? "
            "tmux-codex needs to write there; TMUX_CODEX_HOME chooses another)"
        )
    if "disk is full" in text or "disk I/O" in text:
        return StateDirError(f"cannot write to the store {path}: {text} (is the disk full?)")
    return StateDirError(
        f"the store {path} is not a tmux-codex store or is damaged ({text}): move it "
        "away (its tasks are lost to tmux-codex; the logs stay) and run the command again"
    )


class StoreTooNew(StateDirError):
    """The store was made by a newer tmux-codex (a schema this one does not know)."""


class NameTaken(Exception):
    """A task with that name exists."""
