"""Watch → the loop: what the watchers heard, taken as one :class:`Batch` per turn.

The watchers run in threads of their own (:class:`~tmux_codex.monitor.watch.DirWatch`
on ``logs/`` and ``wake/``, :class:`~tmux_codex.monitor.watch.ProcessWatch` on the
shims, the action workers): each only puts ``(kind, task id)`` on one queue.
The loop takes everything queued at once, so a burst of writes is one turn.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, field

from tmux_codex.core.models import Task
from tmux_codex.monitor.track import Track
from tmux_codex.monitor.watch import Change, ProcessWatch
from tmux_codex.tasks.procs import shim_alive

#: Gather file events this long before reading them: one wake-up per burst.
COALESCE = 0.02


@dataclass
class Batch:
    """The task ids one turn handles (a task in ``exited`` or ``again`` is in ``wakes`` too)."""

    logs: set[int] = field(default_factory=set)  # their log grew: read the new bytes
    wakes: set[int] = field(default_factory=set)  # look at them now
    exited: set[int] = field(default_factory=set)  # their shim ended
    closed: set[int] = field(default_factory=set)  # their log's writer closed it
    again: set[int] = field(default_factory=set)  # an action ended: ask the policies again
    everything: bool = False  # the kernel dropped events: read and look at every live task


def changes_to_items(changes: list[Change]) -> list[tuple[str, int]]:
    """What the directory watch saw (``logs/`` is folder 0, ``wake/`` 1) as queue items."""
    items: list[tuple[str, int]] = []
    for folder, name, closed in changes:
        if folder < 0:  # the kernel dropped events: look at every live task
            items.append(("all", 0))
            continue
        stem = name[:-4] if folder == 0 and name.endswith(".log") else name
        if folder == 0 and stem == name:
            continue
        if not (stem.isascii() and stem.isdigit()):
            continue
        task_id = int(stem)
        if folder == 1:
            items.append(("wake", task_id))
        else:
            items.append(("log", task_id))
            if closed:  # its writer closed it: the pane or its window went away, a full disk
                items.append(("closed", task_id))
    return items


class Inbox:
    """The one queue between the watchers (any thread) and the loop.

    An item is ``(kind, task id)``: ``log`` (its log grew), ``wake`` (a wake
    file was written: a hook, Codex's notify, the shim, a command),
    ``closed`` (its log's writer closed it: tmux's pipe ended, or a line was
    appended), ``exited`` (its shim ended), ``all`` (the kernel dropped events),
    ``policy`` (an action on it ended), ``stop``.
    """

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        # A shim that ends without a word (SIGKILL) writes nothing: its end is an event too.
        self.procs = ProcessWatch(lambda task_id: self.put("exited", task_id))

    def put(self, kind: str, task_id: int = 0) -> None:
        self.queue.put((kind, task_id))

    def on_changes(self, changes: list[Change]) -> None:
        """Files written (the watcher's thread): queue the tasks they are about."""
        for item in changes_to_items(changes):
            self.queue.put(item)

    def watch_shim(self, task: Task, track: Track) -> None:
        """Hear of the end of the task's shim, even one killed without a word."""
        pid = task.shim_pid
        if not pid or pid == track.shim_pid or task.final:
            return
        track.shim_pid, track.shim_gone, track.exit_tries = pid, False, 0
        if shim_alive(pid):
            self.procs.watch(task.id, pid)
        else:
            self.put("exited", task.id)

    def take(self, timeout: float | None) -> Batch:
        """Everything queued, waiting up to ``timeout`` seconds (None: for ever) for a first item.

        A ``stop`` ends the batch (what follows it stays queued).
        """
        batch = Batch()
        try:
            item: tuple[str, int] | None = self.queue.get(timeout=timeout)
        except queue.Empty:
            item = None
        while item is not None:
            kind, task_id = item
            if kind == "log":
                batch.logs.add(task_id)
            elif kind == "wake":
                batch.wakes.add(task_id)
            elif kind == "closed":
                batch.wakes.add(task_id)
                batch.closed.add(task_id)
            elif kind == "exited":
                batch.wakes.add(task_id)
                batch.exited.add(task_id)
            elif kind == "all":
                batch.everything = True
            elif kind == "policy":
                batch.again.add(task_id)
                batch.wakes.add(task_id)
            elif kind == "stop":
                break
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                item = None
        return batch
