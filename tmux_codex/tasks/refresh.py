"""Knowing a task's state now: one batched capture-pane, the shim, the hooks, the state escape.

Every read classifies live tasks on demand, so answers are right with no
monitor running; what it learns is written back to the store (state changes
become events). Also here, for the other task modules and the monitor: a
task's pane (:func:`pane_for`), whether its shim still runs
(:func:`shim_alive`), the last state Codex announced in its log
(:func:`codex_state`), and :func:`live_window`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from tmux_codex.codex.logtext import RESUME_SEPARATOR, states
from tmux_codex.core.errors import DiskFull, NotPossible
from tmux_codex.core.models import FINAL_STATES, LIVE_STATES, Task
from tmux_codex.core.paths import env_path, log_stopped_detail
from tmux_codex.core.store import StateChange
from tmux_codex.core.wake import wake
from tmux_codex.tasks.context import Context
from tmux_codex.tasks.procs import process_state, shim_alive
from tmux_codex.tmux.server import PaneInfo, Tmux

if TYPE_CHECKING:
    from tmux_codex.codex.classify import Verdict


def _iso_mtime(path: str) -> str | None:
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pane_for(task: Task, panes: dict[str, PaneInfo]) -> PaneInfo | None:
    """The task's pane: its window must carry the task's id (window ids are reused)."""
    info = panes.get(task.window_id or "")
    if info is None or info.task != str(task.id):
        return None
    return info


#: After nudging a tmux server that missed its pane's exit, wait this long for it.
NUDGE_WAIT = 1.0


def _dead_pane_status(tmux: Tmux, info: PaneInfo) -> tuple[int | None, int | None]:
    """``(exit status, signal)`` of a dead pane's process as tmux knows it.

    tmux 3.3a sometimes misses the SIGCHLD of a pane's process: the pane is
    dead, its process an unreaped zombie, and tmux knows no status. Another
    SIGCHLD makes it reap: it is sent, and the status waited for a moment.
    """
    if info.dead_status is not None or info.dead_signal is not None:
        return info.dead_status, info.dead_signal
    if info.pid <= 0 or info.server_pid <= 0 or process_state(info.pid) != "Z":
        return None, None
    with contextlib.suppress(OSError):
        os.kill(info.server_pid, signal.SIGCHLD)
    deadline = time.monotonic() + NUDGE_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = tmux.panes().get(info.window_id)
        if now is None or now.pane_id != info.pane_id:
            break
        if now.dead_status is not None or now.dead_signal is not None:
            return now.dead_status, now.dead_signal
    return None, None


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


#: How much of a log's end is read for Codex's last state escape.
_STATE_TAIL = 65536


def codex_state(task: Task, end: int | None = None) -> str | None:
    """The last state Codex announced in the task's log (``working:app=codex``, …),
    in its first ``end`` bytes when given.

    Codex's private state escape (see CODEX.md) says where its turn is.
    """
    try:
        with open(task.log_path, "rb") as fh:
            if end is None:
                end = fh.seek(0, os.SEEK_END)
            fh.seek(max(end - _STATE_TAIL, 0))
            tail = fh.read(end - fh.tell())
        # A resumed task's log goes on after a separator: only the new run counts.
        tail = tail[tail.rfind(RESUME_SEPARATOR) + 1 :] if RESUME_SEPARATOR in tail else tail
    except OSError:
        return None
    found = states(tail)
    return found[-1] if found else None


def refresh(
    ctx: Context,
    tasks: list[Task],
    *,
    announced: dict[int, str | None] | None = None,
    progressed: frozenset[int] = frozenset(),
    by: str = "cli",
    hold: Callable[[Task, Verdict], bool] | None = None,
    wake_monitor: bool = True,
    panes_seen: dict[int, PaneInfo] | None = None,
    verdicts: dict[int, Verdict] | None = None,
) -> list[Task]:
    """Bring live tasks' states up to date from tmux; returns the tasks re-read.

    One ``list-panes`` and one batched ``capture-pane`` per tmux server; the
    changes are written in one transaction, and unchanged tasks not at all.
    ``announced`` gives the last state escape of tasks whose log the caller
    follows (others are read from their log's tail); a ``stalled`` task in
    ``progressed`` printed real output again and may leave ``stalled``. A
    verdict for which ``hold`` says True is not written (yet). The pane found
    for each task is put in ``panes_seen`` (by task id) when given, and each
    verdict reached (and not held) in ``verdicts``.
    """
    live = [t for t in tasks if t.state in LIVE_STATES and t.window_id]
    if not live:
        return tasks
    from tmux_codex.codex.classify import decide
    from tmux_codex.codex.patterns import patterns_for

    store = ctx.store
    changes: list[StateChange] = []
    stopped: list[tuple[int, str]] = []
    by_socket: dict[str, list[Task]] = {}
    for task in live:
        by_socket.setdefault(task.tmux_socket, []).append(task)
    for socket, group in by_socket.items():
        tmux = Tmux(socket)
        panes, screens = tmux.snapshot([t.pane_id for t in group if t.pane_id])
        for task in group:
            info = pane_for(task, panes)
            if info is not None and panes_seen is not None:
                panes_seen[task.id] = info
            if info is None:
                if shim_alive(task.shim_pid):
                    continue  # tmux is out of reach from here, or the shim is finishing
                changes.append(
                    StateChange(task.id, "lost", detail="its tmux window is gone", by=by)
                )
                continue
            screen = "" if info.dead else screens.get(info.pane_id)
            if screen is None:
                continue
            exit_status = None
            if info.dead:
                # The shim records the exit status; tmux's is the fallback.
                fresh = store.get(task.id)
                exit_status = fresh.exit_code if fresh and fresh.exit_code is not None else None
                if exit_status is None:
                    exit_status, killed_by = _dead_pane_status(tmux, info)
                    if exit_status is None and killed_by is not None:
                        # The shim itself was killed (Codex, its child, went with
                        # its terminal): nobody will record how Codex ended.
                        name = _signal_name(killed_by)
                        changes.append(
                            StateChange(
                                task.id,
                                "failed",
                                detail=f"its shim was killed by signal {killed_by} ({name}): "
                                "how codex ended is unknown",
                                by=by,
                                fields={
                                    "exit_code": 128 + killed_by,
                                    "hook_request": None,
                                    "last_output_at": _iso_mtime(task.log_path),
                                },
                            )
                        )
                        continue
                if exit_status is None:
                    continue  # its status is not known yet: the shim will record it
            elif not info.pipe and task.shim_pid:
                # The shim turned the log on before it recorded its pid: the pipe
                # ended (its ``cat`` failed, on a full disk say).
                stopped.append((task.id, log_stopped_detail(Path(task.log_path))))
            if announced is not None and task.id in announced:
                last = announced[task.id]
            else:
                last = codex_state(task) if task.mode == "tui" and not info.dead else None
            previous = task.state
            if task.id in progressed and previous == "stalled":
                previous = "working"
            if previous == "waiting" and task.reason == "trust":
                previous = "starting"  # trusted: Codex starts up and takes the prompt
            verdict = decide(
                screen,
                info.title,
                task.mode,
                announced=last,
                previous=previous,
                dead=info.dead,
                exit_status=exit_status,
                awaits_prompt=task.argv[-3:-1] != ["resume", "--"],
                patterns=patterns_for(task.codex_version),
            )
            verdict, request = with_hook_request(task, verdict)
            if hold is not None and hold(task, verdict):
                continue
            if verdicts is not None:
                verdicts[task.id] = verdict
            change = _change(task, verdict, by, request)
            if change is not None:
                if verdict.state in ("done", "failed"):
                    change.detail = f"codex exited with status {exit_status}"
                    change.fields = {"exit_code": exit_status, "hook_request": None}
                changes.append(change)
    for task_id, detail in stopped:
        # On a full disk this waits for space: the monitor, or the shim at the end, records it.
        with contextlib.suppress(DiskFull):
            store.audit(task_id, detail, by=by, once=True)
    if changes:
        store.set_states(changes, only_from=LIVE_STATES)
        for change in changes:
            if change.state in FINAL_STATES:
                env_path(store.home, change.task_id).unlink(missing_ok=True)
            if wake_monitor:  # a change it did not see: its sinks and policies must
                wake(store.home, change.task_id)
        fresh_tasks = {t.id: t for t in store.tasks()}
        return [fresh_tasks.get(t.id, t) for t in tasks]
    return tasks


def live_window(ctx: Context, task: Task) -> Task:
    """The task brought up to date; it must still have its tmux window."""
    task = refresh(ctx, [task])[0]
    if task.state == "lost" or not task.pane_id:
        raise NotPossible(f"task {task.id} ({task.name}) has no tmux window (state {task.state})")
    return task


def _stale(recorded: str | None, seen: str | None, within: float = 5.0) -> bool:
    """Whether the recorded time of last output is worth a write (older than ``within``)."""
    if seen is None or recorded == seen:
        return False
    if recorded is None:
        return True
    try:
        fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
        gap = datetime.strptime(seen, fmt) - datetime.strptime(recorded, fmt)
    except ValueError:
        return True
    return gap.total_seconds() >= within


def with_hook_request(task: Task, verdict: Verdict) -> tuple[Verdict, str | None]:
    """The screen's verdict with the permission requests the hooks recorded taken in.

    While a prompt is up, its text is that of the request it shows (the
    complete command: the screen may cut it, and the model's reason may
    imitate it); see :mod:`tmux_codex.codex.pending`. Returns the verdict and the
    requests to keep (JSON, None: none).
    """
    from tmux_codex.codex import pending

    requests = pending.load(task.hook_request)
    combined, kept = pending.combine(requests, verdict, datetime.now(timezone.utc))
    return combined, pending.dump(kept)


def _change(
    task: Task, verdict: Verdict, by: str, request: str | None = None
) -> StateChange | None:
    """The write a verdict on a live task needs; None when nothing changed."""
    last_output = _iso_mtime(task.log_path) or task.last_output_at
    if verdict.state in FINAL_STATES:
        return StateChange(task.id, verdict.state, by=by, fields={"last_output_at": last_output})
    state, reason, prompt, error = (
        verdict.state,
        verdict.reason,
        verdict.prompt_text,
        verdict.error,
    )
    fields = {
        "prompt_text": prompt,
        "error": error,
        "last_output_at": last_output,
        "hook_request": request,
    }
    current = (task.state, task.reason, task.prompt_text, task.error, task.hook_request)
    if current == (state, reason, prompt, error, request) and not _stale(
        task.last_output_at, last_output
    ):
        return None
    return StateChange(
        task.id,
        state,
        reason=reason,
        detail=prompt or error,
        by=by,
        fields=fields,
        hook_at=task.hook_at,
    )
