"""The store's SQLite file: opened safely, in WAL mode, with transactions many processes share.

The file is created private (0600) in the state directory; SQLite's journal
is WAL. Every write runs in a ``BEGIN IMMEDIATE`` transaction with a generous
busy timeout, so many ``tmux-codex`` processes can write at once; a
transaction inside another is a savepoint. On opening, a store a newer
tmux-codex made is refused before anything is written, and an older one is
migrated (:mod:`tmux_codex.core.schema`). What goes wrong says what to do:
:class:`StateDirError` (and :class:`StoreTooNew`), or
:class:`~tmux_codex.core.errors.DiskFull`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from tmux_codex.core.errors import DiskFull, TmuxCodexError, is_disk_full
from tmux_codex.core.paths import UnsafeDirectory, db_path, ensure_dir, logs_dir
from tmux_codex.core.schema import MIGRATIONS, migrate, schema_version

__all__ = ["BUSY_TIMEOUT_MS", "Database", "StateDirError", "StoreTooNew"]

BUSY_TIMEOUT_MS = 30_000

_Self = TypeVar("_Self", bound="Database")


class Database:
    """The SQLite file under a ``TMUX_CODEX_HOME`` directory, open and up to date.

    :class:`~tmux_codex.core.store.Store` adds the tasks and events to it.
    """

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
            self._set_up(busy_ms / 1000)
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

    def _set_up(self, patience: float) -> None:
        """Check the version, turn WAL on, migrate; a store that others open at once waits.

        SQLite does not always call its busy handler while another connection
        changes the journal mode or migrates a new file: "database is locked"
        comes at once. That is waited out here, for up to ``patience`` seconds.
        """
        deadline = time.monotonic() + patience
        pause = 0.01
        while True:
            try:
                self._check_version()  # before anything is written
                if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

    def close(self) -> None:
        self.db.close()

    def __enter__(self: _Self) -> _Self:
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
        version = schema_version(self.db)
        if version > len(MIGRATIONS):
            raise StoreTooNew(
                f"the store {db_path(self.home)} was made by a newer tmux-codex (schema "
                f"{version}, this one knows {len(MIGRATIONS)}): upgrade tmux-codex or use "
                "another TMUX_CODEX_HOME"
            )

    def _migrate(self) -> None:
        if schema_version(self.db) >= len(MIGRATIONS):
            return
        with self.transaction() as db:
            migrate(db)
        for name in ("tasks.db-wal", "tasks.db-shm"):
            wal = self.home / name
            if wal.exists():
                wal.chmod(0o600)


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
