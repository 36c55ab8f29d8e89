"""The monitor: one daemon per state directory that keeps every task's state current.

It reacts to events and does not poll panes on a tick. Each turn of
:meth:`Monitor.run` is the same pipeline of stages, each a module of its own
that hands the next plain data:

- **watch** (:mod:`.watch`, :mod:`.inbox`): inotify on ``logs/`` and ``wake/``,
  a pidfd per shim and the action workers queue task ids; the turn takes them
  all as one :class:`~.inbox.Batch`.
- **read** (:mod:`.read`): the new bytes of each log in the batch, as a
  :class:`~.read.Reading`: Codex's state escapes, progress (the stall clock),
  loops, the session id, and whether the task must be looked at.
- **look** (:mod:`.look`): one ``capture-pane`` per tmux server for the tasks
  to look at, classified and written as ``list`` does; at most one look per
  task per :data:`DEBOUNCE`, a burst ending with a last look.
- **timers** (:mod:`.timers`): looks put off, ``stalled``, a poke, a planned
  resume; :meth:`Monitor.run` sleeps until the next one, or an event.
- **decide** (:mod:`.decide`): the policies on each state change, as actions.
- **act** (:mod:`.act`): the actions, through the library code the CLI uses.
- **notify** (:mod:`.changes`, :mod:`.notify`): every state change in the
  store, whoever wrote it, to the sinks.

On start it reconciles, as a restarted daemon must: tasks whose window is
gone become ``lost``, live ones are re-classified from a fresh capture, and
log files are only ever read.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

from tmux_codex.codex.classify import Verdict
from tmux_codex.core import config as config_mod
from tmux_codex.core.errors import TmuxCodexError
from tmux_codex.core.lock import Lock
from tmux_codex.core.models import Task, now
from tmux_codex.core.paths import config_path, ensure_dir, logs_dir, wake_dir
from tmux_codex.core.wake import wakes as count_wakes
from tmux_codex.monitor import decide, look, read, timers
from tmux_codex.monitor.act import Actor
from tmux_codex.monitor.changes import Feed
from tmux_codex.monitor.inbox import COALESCE, Inbox
from tmux_codex.monitor.look import DEBOUNCE
from tmux_codex.monitor.track import Track, follow, schedule_look
from tmux_codex.monitor.voucher import Voucher, mark_unwritten
from tmux_codex.monitor.watch import DirWatch
from tmux_codex.tasks import queue
from tmux_codex.tasks.context import Context
from tmux_codex.tasks.refresh import refresh
from tmux_codex.tmux.server import PaneInfo


class Monitor:
    """Keeps the tasks of one state directory current; :meth:`run` until :meth:`stop`."""

    def __init__(
        self,
        ctx: Context,
        log: Callable[[str], None] = lambda line: None,
        notifier: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.home = ctx.store.home
        self.config = ctx.config
        self.log = log
        self.notifier = notifier
        self.clock = clock
        self.inbox = Inbox()
        self.tracks: dict[int, Track] = {}
        self.stopping = threading.Event()
        self.looks = 0  # captures made (for benchmarks and tests)
        self.book = decide.Book()
        self.actor = Actor(ctx, self.book, log, lambda i: self.inbox.put("policy", i), clock)
        self.feed = Feed(ctx.store)
        self._generation = 0  # cached tasks are good while this stays
        self._slot_freed = False  # a task ended since the queue was last looked at
        self._seen_version: tuple[int, int] = (-1, -1)
        self.word = Voucher(self.home)  # silent until serve gives it the run's token

    # -- life ---------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler)."""
        self.stopping.set()
        self.inbox.put("stop")

    def close(self) -> None:
        """Let go of what :meth:`run` (or a test) left: workers, open logs, the notifier."""
        self.actor.shutdown()
        for track in self.tracks.values():
            track.close()
        if self.notifier is not None:
            self.notifier.close()

    def run(self) -> None:
        logs = ensure_dir(logs_dir(self.home))
        wakes = ensure_dir(wake_dir(self.home))
        watch = DirWatch([logs, wakes], self.inbox.on_changes, gather=COALESCE)
        watch.start()  # before reconciling, so no byte written meanwhile is missed
        self.inbox.procs.start()
        try:
            self.feed.start()
            try:
                self.reconcile()
            except Exception:  # tmux may be briefly out of reach: the logs still lead
                self.log("error while reconciling: " + traceback.format_exc().rstrip())
            self._notify()
            try:
                self._queue(recover=True)  # claimed by a monitor that died, then what waits
            except Exception:  # the next turn tries again (a wake, a task that ends)
                self.log("error while starting queued tasks: " + traceback.format_exc().rstrip())
                self._slot_freed = True
            for task in self.store.tasks():
                if not task.final or task.state in ("lost", "failed"):
                    self._decide(task)  # prompts already up: only now, after a fresh look
            self._vouch()
            while not self.stopping.is_set():
                self._step()
        finally:
            self.word.withdraw()  # first: closing the workers may take seconds
            watch.stop()
            self.inbox.procs.stop()
            self.close()

    def reconcile(self) -> None:
        """Bring every live task up to date, as after a restart; start following their logs."""
        live = self.store.tasks(include_final=False)
        sizes = {t.id: read.log_size(t.log_path) for t in live}  # before looking: nothing missed
        woken = {t.id: count_wakes(self.home, t.id) for t in live}
        panes: dict[int, PaneInfo] = {}
        verdicts: dict[int, Verdict] = {}
        refreshed = refresh(
            self.ctx, live, by="monitor", wake_monitor=False, panes_seen=panes, verdicts=verdicts
        )
        started = self.clock()
        for task in self.store.tasks(include_final=False):
            track = self.tracks[task.id] = read.catch_up(task, sizes.get(task.id, 0), started)
            seen = panes.get(task.id)
            track.pipe = seen is not None and seen.pipe and not seen.dead
            track.woken = woken.get(task.id, 0)
            verdict = verdicts.get(task.id)
            track.judged = None if verdict is None else look.judged(verdict)
            look.landed(track, task, started)  # Codex may have announced what is not drawn yet
            self.inbox.watch_shim(task, track)
        self._check_writers()
        ended = sum(1 for task in refreshed if task.final)
        self.log(f"reconciled {len(live)} live task(s); {ended} of them had ended")

    # -- one turn: watch → read → look → timers → notify → decide → act -------

    def _step(self) -> None:
        due = timers.next_due(self.tracks, self.book.acting, self.book.resume_due, self.config)
        timeout = None if due is None else max(due - self.clock(), 0.0)
        batch = self.inbox.take(timeout)
        for task_id in batch.exited:
            if task_id in self.tracks:
                self.tracks[task_id].shim_gone = True
        if batch.everything:
            batch.wakes.update(t.id for t in self.store.tasks(include_final=False))
            batch.logs.update(t.id for t in self.store.tasks(include_final=False))
            self._check_writers()  # a log's close may be among the events lost
        if self.stopping.is_set():
            return
        try:
            self._check_store()
            self._handle(batch.logs, batch.wakes, frozenset(batch.closed))
            if due is not None and self.clock() >= due:
                self._timers()
            self._notify()
            if self._slot_freed or batch.wakes:
                self._queue()
            for task_id in sorted(batch.again):
                task = self.store.get(task_id)
                if task is not None:
                    self._decide(task)
            self._vouch()
        except Exception as exc:  # one bad turn must not end the monitor
            self.word.withdraw()
            if isinstance(exc, TmuxCodexError):  # a full disk, tmux out of reach: one line
                self.log(f"error: {exc}")
            else:
                self.log("error: " + traceback.format_exc().rstrip())
            for task_id in batch.wakes | batch.logs:  # look again next turn: nothing is dropped
                self.inbox.put("wake", task_id)
            self.stopping.wait(0.5)  # and a lasting fault must not spin

    def _version(self) -> tuple[int, int]:
        """Changes to the store: by other processes (``data_version``), and by this one."""
        return self.store.data_version(), self.store.writes

    def _check_writers(self) -> None:
        """After a restart, or events lost: which logs nobody writes to any more."""
        mark_unwritten(self.tracks, self.store.tasks(include_final=False))

    def _vouch(self) -> None:
        """Say which tasks' stored states are current (once this turn's writes are in)."""
        due = timers.next_due(self.tracks, self.book.acting, self.book.resume_due, self.config)
        self.word.say(self.tracks, due, self.clock())

    def _check_store(self) -> None:
        """Forget cached tasks when anybody wrote to the store since the last look."""
        version = self._version()
        if version != self._seen_version:
            self._seen_version = version
            self._generation += 1

    def _task(self, task_id: int) -> Task | None:
        """The task, from the cache while nobody has written to the store."""
        track = self.tracks.get(task_id)
        if track is not None and track.task is not None and track.generation == self._generation:
            return track.task
        task = self.store.get(task_id)
        if track is not None and task is not None:
            track.task, track.generation = task, self._generation
        return task

    def _handle(
        self, logs: set[int], wakes: set[int], closed: frozenset[int] = frozenset()
    ) -> None:
        """Read the new bytes of ``logs``; look at what wants a look, and at ``wakes``."""
        clock = self.clock()
        wanted: set[int] = set()
        progressed: set[int] = set()
        for task_id in sorted(logs | wakes):
            task = self._task(task_id)
            if task is None:
                gone = self.tracks.pop(task_id, None)
                if gone is not None:
                    gone.close()
                continue
            track = self.tracks.get(task_id)
            if track is None and task.final:
                continue
            track = self.tracks[task_id] = follow(task, track, clock)
            track.task, track.generation = task, self._generation
            track.state, track.mode = task.state, task.mode
            if not task.final:
                track.live_state = task.state
            new = read.read_log(task.log_path, track) if task_id in logs else b""
            if task_id in closed:  # its writer closed the log (tmux may say the pipe is on)
                track.log_closed = True
            elif new:  # written after the close was heard: a writer again (a resume)
                track.log_closed = False
            if task.final:
                self.inbox.procs.forget(task_id)
                for loop in read.read_final(track, new, clock):
                    self.actor.record_loop(task, loop)
                track.close()
                continue
            self.inbox.watch_shim(task, track)
            woken = task_id in wakes
            if woken:  # read before the look: a wake after it is one more
                track.woken = count_wakes(self.home, task_id)
            wants = self._read(task, track, new, clock, progressed) if new else False
            if (wants or woken) and look.now_or_later(track, clock, woken):
                wanted.add(task_id)
        if wanted:
            self._look(wanted, progressed)

    def _read(
        self, task: Task, track: Track, new: bytes, clock: float, progressed: set[int]
    ) -> bool:
        """Read a live task's new bytes; record what they showed; whether to look at it."""
        reading = read.read(task, track, new, clock)
        for loop in reading.loops:
            self.actor.record_loop(task, loop)
        session = reading.session
        if reading.find_rollout:
            session = self.actor.rollout_session(task)
        if session:
            self.actor.record_session(task, track, session)
        if reading.unstalled:
            progressed.add(task.id)
        return reading.look

    def _look(self, ids: set[int], progressed: set[int] | None = None) -> None:
        looked = look.look(self.ctx, self.tracks, ids, progressed or set(), self.clock)
        self.looks += looked.captured

    def _timers(self) -> None:
        clock = self.clock()
        due = timers.due(self.tracks, self.book.resume_due, clock, self.config)
        if due.looks:
            self._look(due.looks)
        for task_id in due.stalls:
            track = self.tracks[task_id]
            if track.mode == "tui":
                self._look({task_id})  # still working, and not at a prompt drawn silently?
            self.actor.stall(task_id, track)
        for task_id in due.pokes:
            self.actor.poke(task_id, self.tracks[task_id])
        for task_id in due.resumes:
            del self.book.resume_due[task_id]
            if task_id not in self.book.acting:
                self.actor.apply(decide.Resume(task_id))
        for task_id in timers.kill_candidates(self.tracks):
            task = self.store.get(task_id)
            if task is None or task_id in self.book.acting:
                continue
            track = self.tracks[task_id]
            action = decide.kill(task, track, clock, self.config.policy)
            if action is not None:
                track.killing = True
                self.actor.apply(action)

    def _notify(self) -> None:
        """Every state change since the last turn, whoever wrote it, to the sinks."""
        for task, event in self.feed.changes(self._version()):
            track = self.tracks.get(task.id)
            if track is not None:  # kept when it ends: a resumed task reads on from here
                track.state = task.state
            self.log(
                f"task {task.id} ({task.name}): {event.from_state or 'new'} -> {event.label} "
                f"by {event.by}"
            )
            if self.notifier is not None:
                self.notifier.state_changed(task, event)
            if track is not None and event.by != "monitor" and not task.final:
                # Written by another process (send, a read, a policy's action): look,
                # so its stored verdict is one the monitor judged again.
                schedule_look(track, self.clock())
            if task.final:
                self._slot_freed = True
            self._decide(task)

    def _queue(self, recover: bool = False) -> None:
        """Start the queued tasks whose turn came (a slot freed, a dependency ended)."""
        self._slot_freed = False
        started = queue.recover(self.store) if recover else []
        if self.store.any_in("queued"):
            started += queue.promote(self.store, self._max_parallel())
        for task in started:
            self.log(f"task {task.id} ({task.name}): started from the queue")

    def _max_parallel(self) -> int:
        """``[fleet] max_parallel`` as the config file says now (``start`` reads it so too)."""
        try:
            return config_mod.load(config_path()).fleet.max_parallel
        except TmuxCodexError:  # a config broken since: the one the monitor started with
            return self.config.fleet.max_parallel

    def _decide(self, task: Task) -> None:
        """Carry out what the policies say of a task that just changed state."""
        facts = None
        if decide.wants_resume_facts(task, self.book):
            facts = self.actor.resume_facts(task)
        for action in decide.on_state(task, self.config.policy, self.book, facts):
            self.actor.apply(action)


def serve(ctx: Context, notifier: Any = None) -> None:
    """Run the monitor of ``ctx``'s state directory in this process until SIGTERM/SIGINT."""
    lock = Lock(ctx.store.home)
    lock.acquire()

    def log(line: str) -> None:
        with contextlib.suppress(OSError):  # a full disk must not end the monitor
            print(f"{now()} {line}", flush=True)

    monitor = Monitor(ctx, log=log, notifier=notifier)
    monitor.word.token = lock.token

    def on_signal(signum: int, frame: FrameType | None) -> None:
        monitor.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log(f"monitor {os.getpid()} watching {ctx.store.home}")
    try:
        monitor.run()
    finally:
        lock.release()
        log(f"monitor {os.getpid()} stopped")


__all__ = ["DEBOUNCE", "Monitor", "Track", "serve"]
