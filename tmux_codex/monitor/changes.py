"""Notify's feed: every state change in the store since the last one handed to the sinks.

Whoever wrote a change (the monitor, the shim, a hook, a command), the loop
takes it from :meth:`Feed.changes` as ``(task, event)``, tells the
:class:`~tmux_codex.monitor.notify.Notifier` and asks the policies. The id
of the last event handed on is kept in ``monitor-notified.json``: a
restarted monitor notifies the changes after it that are younger than
:data:`RENOTIFY_WITHIN` (a monitor that was off for a day does not replay
the day).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from tmux_codex.core.models import Event, Task
from tmux_codex.core.paths import notified_path
from tmux_codex.core.store import Store

#: After a restart, state changes younger than this that no sink saw yet are notified.
RENOTIFY_WITHIN = 600.0


class Feed:
    """The events of one store after :attr:`last_event`, the state changes among them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.last_event = 0
        self._flushed_version: tuple[int, int] = (-1, -1)
        self._saved_event = -1

    def start(self) -> None:
        """Go on from where the last monitor of this home stopped (see the module)."""
        self.last_event = self.notified_upto()

    def changes(self, version: tuple[int, int]) -> Iterator[tuple[Task, Event]]:
        """The state changes since the last call, each with its task as the store has it
        when its turn comes (lazily: the caller's own writes in between are seen).

        ``version`` says whether anybody wrote to the store since the last call;
        when nobody did, there is nothing to read. Once the last change is
        taken, where the feed got to is saved (:meth:`save`).
        """
        if version == self._flushed_version:
            return
        self._flushed_version = version
        for event in self.store.events(after=self.last_event):
            self.last_event = event.id
            if event.from_state == event.to_state:
                continue  # an action on record, not a change
            task = self.store.get(event.task)
            if task is None:
                continue
            yield task, event
        self.save()

    def notified_upto(self) -> int:
        """The last event a monitor of this home handed to the sinks (kept across restarts).

        Events after it are notified now, unless older than :data:`RENOTIFY_WITHIN`.
        """
        try:
            saved = int(json.loads(notified_path(self.store.home).read_text())["event"])
        except (OSError, ValueError, KeyError, TypeError):
            return self.store.last_event_id()
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=RENOTIFY_WITHIN)
        stamp = cutoff.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for event in self.store.events(after=saved):
            if event.at >= stamp:
                return event.id - 1
        return self.store.last_event_id()

    def save(self) -> None:
        """Keep :attr:`last_event` in ``monitor-notified.json`` (when it moved)."""
        if self.last_event == self._saved_event:
            return
        self._saved_event = self.last_event
        path = notified_path(self.store.home)
        tmp = path.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"event": self.last_event}, fh)
            os.replace(tmp, path)
