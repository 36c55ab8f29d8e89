"""Act: carry out what the other stages decided, through the library code the CLI uses.

:meth:`Actor.apply` takes the decide stage's actions: an answer, a kill or
a resume (they wait for tmux and Codex) runs in a worker thread of its own,
with its own store connection, through :func:`tmux_codex.tasks.act.answer`,
:func:`~tmux_codex.tasks.act.kill` and :func:`tmux_codex.tasks.resume.resume`
(as ``approve``, ``kill`` and ``resume`` do, ``by: "policy"``); when it ends
the worker hands the task back to the loop (``done(task_id)``), which asks
the policies again. A note is an event, a planned resume a time in the
:class:`~tmux_codex.monitor.decide.Book`. The rest are the monitor's own
writes, on the loop's thread: ``stalled`` and a poke (the timers), a loop
and a session id (the read stage).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tmux_codex.codex.sessions import find_session
from tmux_codex.core.models import Task
from tmux_codex.core.store import Store
from tmux_codex.monitor.decide import (
    Action,
    Answer,
    Book,
    Kill,
    Note,
    PlanResume,
    Resume,
    ResumeFacts,
)
from tmux_codex.monitor.read import Loop
from tmux_codex.monitor.track import Track
from tmux_codex.tasks.act import answer, kill, poke
from tmux_codex.tasks.context import Context
from tmux_codex.tasks.resume import resume

#: Workers for the policies' actions (answers, kills, resumes).
WORKERS = 2
#: How long an automatic answer waits for the prompt to go away.
ANSWER_TIMEOUT = 4.0
#: How long an automatic resume waits to see Codex take the session.
RESUME_VERIFY = 15.0


def duration(seconds: float) -> str:
    """``300`` → ``5m``, ``90`` → ``90s`` (as events say it)."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def tmux_up(socket: str) -> bool:
    """Whether the tmux server ``socket`` runs (resuming into a dead server would loop)."""
    base = ["tmux", "-L", socket] if socket else ["tmux"]
    try:
        done = subprocess.run([*base, "list-sessions"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


class Actor:
    """Carries out actions for the monitor of ``ctx``'s state directory."""

    def __init__(
        self,
        ctx: Context,
        book: Book,
        log: Callable[[str], None],
        done: Callable[[int], None],
        clock: Callable[[], float],
    ) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.book = book
        self.log = log
        self.done = done  # an action on the task ended (called from the worker)
        self.clock = clock
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="policy")

    def shutdown(self) -> None:
        """Wait for the action under way; drop those not started."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    # -- the policies' actions ------------------------------------------------

    def apply(self, action: Action) -> None:
        if isinstance(action, Note):
            self.store.audit(action.task_id, action.text, by="policy")
        elif isinstance(action, PlanResume):
            self.book.resume_due[action.task_id] = self.clock() + action.delay
            self.log(
                f"task {action.task_id} ({action.name}): resuming in {action.delay:g}s "
                "(max_resumes)"
            )
        else:  # it waits for tmux; the loop must not
            self.book.acting.add(action.task_id)
            self.pool.submit(self._run, action)

    def _run(self, action: Answer | Kill | Resume) -> None:
        task_id = action.task_id
        what = type(action).__name__.lower()
        try:
            with Store(self.store.home) as store:
                ctx = Context(store=store, config=self.ctx.config, socket=self.ctx.socket)
                if isinstance(action, Answer):
                    answer(
                        ctx,
                        str(task_id),
                        action.choice,
                        by="policy",
                        rule=action.rule,
                        expect_prompt=action.prompt,
                        timeout=ANSWER_TIMEOUT,
                    )
                elif isinstance(action, Kill):
                    kill(ctx, str(task_id), by="policy", why=action.why)
                else:
                    resume(ctx, str(task_id), None, by="policy", verify=RESUME_VERIFY)
        except Exception as exc:
            self.log(f"task {task_id}: policy {what} failed: {exc}")
        finally:
            self.book.acting.discard(task_id)
            self.done(task_id)  # what the policies say now, on the loop

    def resume_facts(self, task: Task) -> ResumeFacts:
        """What ``max_resumes`` needs: resumes made so far, whether tmux runs."""
        resumes = sum(
            1
            for e in self.store.events(task.id)
            if e.by == "policy" and (e.detail or "").startswith("resumed Codex session")
        )
        return ResumeFacts(resumes, tmux_up(task.tmux_socket))

    # -- the timers' ----------------------------------------------------------

    def stall(self, task_id: int, track: Track) -> None:
        """``stalled``, if the store still shows the task ``working``."""
        task = self.store.get(task_id)
        if task is None or task.state != "working":
            if task is not None:
                track.state = task.state
            return
        silent = duration(self.ctx.config.monitor.stall_after)
        if self.store.set_state(
            task_id,
            "stalled",
            detail=f"no output for {silent} while working",
            only_from=frozenset({"working"}),
            prompt_text=None,
        ):
            track.state = "stalled"
            track.poked = False

    def poke(self, task_id: int, track: Track) -> None:
        """One Enter for a TUI still ``stalled`` (once per stall)."""
        track.poked = True
        task = self.store.get(task_id)
        if task is None or task.state != "stalled":
            return
        monitor = self.ctx.config.monitor
        silent = duration(max(monitor.poke_after, monitor.stall_after))
        try:
            poke(self.ctx, str(task_id), by="monitor", why=f"{silent} without output")
        except Exception as exc:
            self.log(f"task {task_id}: could not poke: {exc}")

    # -- the read stage's -----------------------------------------------------

    def record_loop(self, task: Task, loop: Loop) -> None:
        self.store.audit(task.id, loop.detail, by="monitor")
        self.log(f"task {task.id} ({task.name}): looping")

    def record_session(self, task: Task, track: Track, session: str) -> None:
        track.session_at = None
        self.store.update(task.id, codex_session_id=session)
        self.log(f"task {task.id} ({task.name}): Codex session {session}")

    def rollout_session(self, task: Task) -> str | None:
        """The session id of the TUI's rollout file, when it is there."""
        if not task.codex_home:
            return None
        taken = self.store.session_ids() - {task.codex_session_id or ""}
        return find_session(
            Path(task.codex_home), task.workdir, task.created_at, task.prompt, taken
        )
