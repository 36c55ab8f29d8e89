"""The store's schema: the migrations that build it, the task columns, a row as a Task.

Two tables, ``tasks`` and ``events``. The schema version is SQLite's
``user_version`` and each migration moves it up by one (``MIGRATIONS[N - 1]``
takes a database from version N - 1 to N).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tmux_codex.core.models import Task

__all__ = [
    "JSON_COLUMNS",
    "MIGRATIONS",
    "TASK_COLUMNS",
    "UPDATABLE",
    "encode",
    "migrate",
    "schema_version",
    "task_from_row",
]

#: The schema, one script per version (statements separated by ``;``).
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
    # 5: fleets: a task's worktree, the tasks it runs after, the tokens it used (JSON)
    """
    ALTER TABLE tasks ADD COLUMN worktree TEXT;
    ALTER TABLE tasks ADD COLUMN after_ids TEXT;
    ALTER TABLE tasks ADD COLUMN tokens TEXT;
    """,
)

#: The columns of ``tasks``, in order.
TASK_COLUMNS = (
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
    "worktree",
    "after_ids",
    "tokens",
)
#: Columns stored as JSON text: ``argv`` (a list), ``worktree`` and ``tokens`` (objects),
#: ``after_ids`` (a list of ids; the Task field ``after``).
JSON_COLUMNS = frozenset({"argv", "worktree", "after_ids", "tokens"})
#: The columns ``Store.update`` may set.
UPDATABLE = frozenset(TASK_COLUMNS) - {"id", "created_at"}


def task_from_row(row: sqlite3.Row) -> Task:
    """A ``tasks`` row as a :class:`Task` (``argv`` is stored as JSON)."""
    data = dict(row)
    data["argv"] = json.loads(data["argv"])
    data["after"] = json.loads(data.pop("after_ids") or "[]")
    for key in ("worktree", "tokens"):
        data[key] = json.loads(data[key]) if data[key] else None
    return Task(**data)


def encode(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as the columns store them (the JSON columns as text)."""
    return {
        k: json.dumps(v) if k in JSON_COLUMNS and v is not None and not isinstance(v, str) else v
        for k, v in fields.items()
    }


def schema_version(db: sqlite3.Connection) -> int:
    """The schema version of the database (0: a new, empty one)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> None:
    """Run the migrations the database has not had, inside the caller's write transaction."""
    version = schema_version(db)
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {number}")
