"""The task store: tasks and their events, in the SQLite file under ``TMUX_CODEX_HOME``.

:class:`Store` is the API every command, the monitor and the hooks use: add,
find, update and delete tasks, move them between states (each change of
state or reason, and each action on a task, is an event), read the events.
Each call is one transaction. Opening the file, transactions and migrations
are :class:`~tmux_codex.core.database.Database`'s; the schema is
:mod:`tmux_codex.core.schema`'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tmux_codex.core.database import Database
from tmux_codex.core.models import Event, Task, now
from tmux_codex.core.schema import UPDATABLE, encode, task_from_row

__all__ = ["NameTaken", "StateChange", "Store"]


class Store(Database):
    """The store under a ``TMUX_CODEX_HOME`` directory (``Store(home)`` opens it)."""

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
                **encode(fields),
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
                "VALUES (?, ?, NULL, ?, ?, ?, 'user')",
                (
                    task_id,
                    stamp,
                    fields["state"],
                    fields.get("reason"),
                    "queued" if fields["state"] == "queued" else "started",
                ),
            )
        task = self.get(task_id)
        assert task is not None
        return task

    def get(self, task_id: int) -> Task | None:
        row = self.db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return task_from_row(row) if row else None

    def by_name(self, name: str) -> Task | None:
        row = self.db.execute("SELECT * FROM tasks WHERE name = ?", (name,)).fetchone()
        return task_from_row(row) if row else None

    def by_window(self, window_id: str) -> Task | None:
        row = self.db.execute(
            "SELECT * FROM tasks WHERE window_id = ? ORDER BY id DESC LIMIT 1", (window_id,)
        ).fetchone()
        return task_from_row(row) if row else None

    def tasks(self, include_final: bool = True) -> list[Task]:
        sql = "SELECT * FROM tasks"
        if not include_final:
            sql += " WHERE state NOT IN ('done', 'failed', 'killed', 'lost')"
        return [task_from_row(r) for r in self.db.execute(sql + " ORDER BY id")]

    def update(self, task_id: int, **fields: Any) -> None:
        """Set task fields (and ``updated_at``) without recording an event."""
        bad = set(fields) - UPDATABLE
        if bad:
            raise KeyError(f"not task fields: {sorted(bad)}")
        fields = encode(fields)
        fields["updated_at"] = now()
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
            values = {**encode(fields), "state": state, "reason": reason, "updated_at": stamp}
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
            values = {**encode(fields), "updated_at": stamp}
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

    def any_in(self, state: str) -> bool:
        """Whether some task is in ``state`` (one indexed-free read; cheap)."""
        return (
            self.db.execute("SELECT 1 FROM tasks WHERE state = ? LIMIT 1", (state,)).fetchone()
            is not None
        )

    def queued_since(self) -> dict[int, int]:
        """For each task, the event that last put it in the queue (ids grow with time)."""
        rows = self.db.execute(
            "SELECT task_id, MAX(id) FROM events WHERE to_state = 'queued' "
            "AND (from_state IS NULL OR from_state != 'queued') GROUP BY task_id"
        )
        return {int(task_id): int(event) for task_id, event in rows}

    def delete(self, task_id: int, only_from: frozenset[str] | None = None) -> bool:
        """Remove a task and its events; with ``only_from``, only from those states."""
        with self.transaction() as db:
            row = db.execute("SELECT state FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None or (only_from is not None and row["state"] not in only_from):
                return False
            db.execute("DELETE FROM events WHERE task_id = ?", (task_id,))
            db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
            return True

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


class NameTaken(Exception):
    """A task with that name exists."""
