"""Which files in a few directories were written, and which processes ended.

On Linux this reads inotify through watchdog's own bindings
(``watchdog.observers.inotify_c``): one inotify descriptor, one watch per
directory, and one ``read`` returns every event pending, so 50 tasks printing
10 lines a second cost one wake-up per batch instead of two thread hand-offs
per write (watchdog's ``Observer`` alone took about 8 % of a core there).
Elsewhere it uses watchdog's ``Observer``.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: One change: (index of the directory, file name, whether the file was closed after writing).
Change = tuple[int, str, bool]

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


class DirWatch:
    """Calls ``on_changes`` (from a thread of its own) with batches of :data:`Change`."""

    def __init__(
        self, dirs: list[Path], on_changes: Callable[[list[Change]], None], gather: float = 0.01
    ) -> None:
        self.dirs = dirs
        self.gather = gather  # seconds to let events gather before a read
        self.on_changes = on_changes
        self._thread: threading.Thread | None = None
        self._observer: Any = None
        self._fd = -1
        self._stop_r, self._stop_w = -1, -1
        self._wds: dict[int, int] = {}

    def start(self) -> None:
        try:
            self._start_inotify()
        except (ImportError, OSError, AttributeError):
            self._start_observer()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            with contextlib.suppress(OSError):
                os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            for fd in (self._fd, self._stop_r, self._stop_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- Linux: inotify, read in batches ----------------------------------

    def _start_inotify(self) -> None:
        from watchdog.observers.inotify_c import (  # Linux only
            InotifyConstants,
            inotify_add_watch,
            inotify_init,
        )

        mask = (
            InotifyConstants.IN_MODIFY
            | InotifyConstants.IN_CLOSE_WRITE
            | InotifyConstants.IN_CREATE
        )
        fd = inotify_init()
        if fd < 0:
            raise OSError("inotify_init failed")
        try:
            for index, folder in enumerate(self.dirs):
                wd = inotify_add_watch(fd, os.fsencode(folder), mask)
                if wd < 0:
                    raise OSError(f"cannot watch {folder}")
                self._wds[wd] = index
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._closed_mask = int(InotifyConstants.IN_CLOSE_WRITE)
        self._overflow_mask = int(InotifyConstants.IN_Q_OVERFLOW)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(
            target=self._read_loop, name="tmux-codex-watch", daemon=True
        )
        self._thread.start()

    def _read_loop(self) -> None:
        while True:
            ready, _, _ = select.select([self._fd, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            # A moment for more writes to land: the kernel folds repeated writes
            # to one file into one event while they wait unread.
            ready, _, _ = select.select([self._stop_r], [], [], self.gather)
            if ready:
                return
            try:
                data = os.read(self._fd, 1 << 16)
            except OSError:
                return
            changes: dict[tuple[int, str], bool] = {}
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                name = data[offset + _HEADER.size : offset + _HEADER.size + length].rstrip(b"\0")
                offset += _HEADER.size + length
                if mask & self._overflow_mask:
                    changes[(-1, "")] = False  # events were lost: the reader looks at all
                    continue
                index = self._wds.get(wd)
                if index is not None and name:
                    key = (index, os.fsdecode(name))
                    changes[key] = changes.get(key, False) or bool(mask & self._closed_mask)
            if changes:
                batch = [(index, name, closed) for (index, name), closed in changes.items()]
                try:
                    self.on_changes(batch)
                except Exception:  # the watch must go on whatever its reader does
                    traceback.print_exc()

    # -- elsewhere: watchdog's Observer -------------------------------------

    def _start_observer(self) -> None:
        from watchdog.events import (
            FileClosedEvent,
            FileCreatedEvent,
            FileModifiedEvent,
            FileSystemEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        outer = self

        class Handler(FileSystemEventHandler):
            def __init__(self, index: int) -> None:
                self.index = index

            def on_any_event(self, event: FileSystemEvent) -> None:
                name = os.path.basename(os.fsdecode(event.src_path))
                outer.on_changes([(self.index, name, isinstance(event, FileClosedEvent))])

        observer = Observer()
        kinds = [FileModifiedEvent, FileClosedEvent, FileCreatedEvent]
        for index, folder in enumerate(self.dirs):
            observer.schedule(Handler(index), str(folder), recursive=False, event_filter=kinds)
        observer.start()
        self._observer = observer


class ProcessWatch:
    """Calls ``on_exit(key)`` (from a thread of its own) when a watched process ends.

    On Linux (5.3 and newer) each process is a pidfd, which becomes readable
    when the process ends, whoever its parent is; one thread waits on all of
    them. Elsewhere :attr:`available` is False and :meth:`watch` does nothing.
    """

    def __init__(self, on_exit: Callable[[int], None]) -> None:
        self.on_exit = on_exit
        self.available = hasattr(os, "pidfd_open")
        self._lock = threading.Lock()
        self._fds: dict[int, int] = {}  # key -> pidfd
        self._changed = False
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = -1, -1
        self._stopping = False

    def start(self) -> None:
        if not self.available:
            return
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(
            target=self._wait_loop, name="tmux-codex-procs", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        with self._lock:
            for fd in [*self._fds.values(), self._stop_r, self._stop_w]:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds.clear()

    def watch(self, key: int, pid: int) -> None:
        """Watch ``pid`` for ``key`` (instead of what it watched before).

        A process that has ended already is reported at once.
        """
        if self._thread is None:
            return
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.forget(key)
            self.on_exit(key)
            return
        except OSError:  # an old kernel: no pidfds
            return
        os.set_inheritable(fd, False)
        with self._lock:
            old = self._fds.pop(key, None)
            self._fds[key] = fd
            self._changed = True
        if old is not None:
            with contextlib.suppress(OSError):
                os.close(old)
        self._interrupt()

    def forget(self, key: int) -> None:
        with self._lock:
            fd = self._fds.pop(key, None)
            self._changed = True
        if fd is not None:
            self._interrupt()
            with contextlib.suppress(OSError):
                os.close(fd)

    def _interrupt(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"c")

    def _wait_loop(self) -> None:
        while not self._stopping:
            with self._lock:
                keys = {fd: key for key, fd in self._fds.items()}
                self._changed = False
            poll = select.poll()  # no FD_SETSIZE limit, unlike select()
            for fd in [self._stop_r, *keys]:
                poll.register(fd, select.POLLIN)
            try:
                ready = [fd for fd, _mask in poll.poll()]
            except OSError:
                continue
            if self._stop_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._stop_r, 4096)
            ended = []
            with self._lock:
                for fd in ready:
                    key = keys.get(fd)
                    if key is not None and self._fds.get(key) == fd:
                        del self._fds[key]
                        ended.append((key, fd))
            for key, fd in ended:
                with contextlib.suppress(OSError):
                    os.close(fd)
                try:
                    self.on_exit(key)
                except Exception:  # the watch must go on whatever its reader does
                    traceback.print_exc()
