"""The library API behind the CLI: find tasks, know their state now, act on them.

Every read classifies live tasks on demand from one batched ``capture-pane``,
so answers are right with no monitor running; what it learns is written back
to the store (state changes become events).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from tmux_codex.config import Config
from tmux_codex.errors import BadInput, DiskFull, NotPossible, TaskNotFound
from tmux_codex.logtext import RESUME_SEPARATOR
from tmux_codex.models import FINAL_STATES, LIVE_STATES, Event, Task
from tmux_codex.paths import env_path, log_stopped_detail, prompt_path
from tmux_codex.store import StateChange, Store
from tmux_codex.tmux import PaneInfo, Tmux
from tmux_codex.wake import wake

if TYPE_CHECKING:
    from tmux_codex.classify import Verdict
    from tmux_codex.report import Report


@dataclass
class Context:
    """What every command needs: the store, the config and the tmux server."""

    store: Store
    config: Config
    socket: str

    @property
    def tmux(self) -> Tmux:
        return Tmux(self.socket)


# -- finding a task ---------------------------------------------------------

#: SQLite's largest integer: no task id is larger.
MAX_ID = 2**63 - 1


def resolve(ctx: Context, ref: str | None) -> Task:
    """The task named by an id, a name or a window id; inside tmux, the current window's."""
    store = ctx.store
    if ref is None or ref == "":
        pane = os.environ.get("TMUX_PANE")
        if not pane or not inside_server(ctx.socket):
            raise TaskNotFound(
                "no TASK given and not in a pane of tmux-codex's tmux server: name a task"
            )
        try:
            window, task_id = ctx.tmux.window_of_pane(pane)
        except Exception:  # the pane may be on another server
            window, task_id = "", ""
        task = store.get(int(task_id)) if task_id.isdigit() else None
        if task is None and window:
            task = store.by_window(window)
        if task is None:
            raise TaskNotFound("the current tmux window holds no tmux-codex task; name one")
        return task
    task = None
    if ref.isascii() and ref.isdigit():
        if int(ref) > MAX_ID:
            raise BadInput(f"no task {ref!r}: task ids are at most {MAX_ID}")
        task = store.get(int(ref))
    if task is None and ref.startswith("@"):
        task = store.by_window(ref)
    if task is None:
        task = store.by_name(ref)
    if task is None:
        raise TaskNotFound(f"no task {ref!r}: see 'tmux-codex list --all'")
    return task


# -- knowing the state ------------------------------------------------------


def _iso_mtime(path: str) -> str | None:
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pane_for(task: Task, panes: dict[str, PaneInfo]) -> PaneInfo | None:
    """The task's pane: its window must carry the task's id (window ids are reused)."""
    info = panes.get(task.window_id or "")
    if info is None or info.task != str(task.id):
        return None
    return info


def _process_state(pid: int) -> str | None:
    """The state letter of a process (``R``, ``S``, ``Z`` for a zombie, …); None if gone.

    Where there is no ``/proc``, a process that exists is ``?``.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0].decode()
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "?"


def _shim_alive(pid: int | None) -> bool:
    """Whether the task's shim still runs (then it will record how Codex ended).

    A zombie does not: it has ended, and only its parent (tmux) can learn how.
    """
    if not pid:
        return False
    state = _process_state(pid)
    if state is None or state == "Z":
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"tmux_codex.shim" in fh.read()
    except OSError:
        return True  # no /proc here: the pid exists, trust it


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
    if info.pid <= 0 or info.server_pid <= 0 or _process_state(info.pid) != "Z":
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


#: Codex's private state escape (see CODEX.md): the last one says where its turn is.
_STATE_ESCAPE = re.compile(rb"\x1b\]7501;state=([^\x07\x1b]*)(?:\x07|\x1b\\)")
#: How much of a log's end is read for it.
_STATE_TAIL = 65536


def _codex_state(task: Task) -> str | None:
    """The last state Codex announced in the task's log (``working:app=codex``, …)."""
    try:
        with open(task.log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(fh.tell() - _STATE_TAIL, 0))
            tail = fh.read()
        # A resumed task's log goes on after a separator: only the new run counts.
        tail = tail[tail.rfind(RESUME_SEPARATOR) + 1 :] if RESUME_SEPARATOR in tail else tail
        found = _STATE_ESCAPE.findall(tail)
    except OSError:
        return None
    return found[-1].decode(errors="replace") if found else None


def refresh(
    ctx: Context,
    tasks: list[Task],
    *,
    announced: dict[int, str | None] | None = None,
    progressed: frozenset[int] = frozenset(),
    by: str = "cli",
    hold: Callable[[Task, Verdict], bool] | None = None,
    wake_monitor: bool = True,
) -> list[Task]:
    """Bring live tasks' states up to date from tmux; returns the tasks re-read.

    One ``list-panes`` and one batched ``capture-pane`` per tmux server; the
    changes are written in one transaction, and unchanged tasks not at all.
    ``announced`` gives the last state escape of tasks whose log the caller
    follows (others are read from their log's tail); a ``stalled`` task in
    ``progressed`` printed real output again and may leave ``stalled``. A
    verdict for which ``hold`` says True is not written (yet).
    """
    live = [t for t in tasks if t.state in LIVE_STATES and t.window_id]
    if not live:
        return tasks
    from tmux_codex.classify import decide, patterns_for

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
            info = _pane_for(task, panes)
            if info is None:
                if _shim_alive(task.shim_pid):
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
                last = _codex_state(task) if task.mode == "tui" and not info.dead else None
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
    imitate it); see :mod:`tmux_codex.pending`. Returns the verdict and the
    requests to keep (JSON, None: none).
    """
    from tmux_codex import pending

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


def list_tasks(ctx: Context, include_final: bool = False, state: str | None = None) -> list[Task]:
    tasks = refresh(ctx, ctx.store.tasks())
    if not include_final and state is None:
        tasks = [t for t in tasks if t.state not in FINAL_STATES]
    if state is not None:
        wanted = set(state.split(","))
        tasks = [t for t in tasks if t.state in wanted]
    return tasks


def show(ctx: Context, ref: str | None) -> Task:
    task = resolve(ctx, ref)
    return refresh(ctx, [task])[0]


def wait(
    ctx: Context, ref: str | None, states: frozenset[str], timeout: float, interval: float = 0.5
) -> tuple[Task, bool]:
    """Wait until the task is in one of ``states``: the task, and whether it got there.

    With a monitor running, the store is read every 50 ms (the monitor keeps
    it current) and tmux is asked only every few seconds, as a safety net.
    With none, each look refreshes the task from tmux. A task that ended in
    another state will not get there: that returns at once.
    """
    from tmux_codex.daemon import running

    task = resolve(ctx, ref)
    deadline = time.monotonic() + timeout
    next_refresh = 0.0
    while True:
        clock = time.monotonic()
        if clock >= next_refresh:
            task = refresh(ctx, [task])[0]
            watched = running(ctx.store.home) is not None
            next_refresh = clock + (5.0 if watched else interval)
            pause = 0.05 if watched else interval
        else:
            task = ctx.store.get(task.id) or task
        if task.state in states:
            return task, True
        if task.final or time.monotonic() >= deadline:
            return task, False
        time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))


def events(ctx: Context, task_id: int | None = None, follow: bool = False) -> Iterator[Event]:
    """The recorded events (of one task), oldest first; with ``follow``, new ones as they come.

    Following reads the store every 100 ms while a monitor keeps it current;
    with none running it looks at the live tasks itself once a second.
    """
    from tmux_codex.daemon import running

    last = 0
    next_look = 0.0
    while True:
        for event in ctx.store.events(task_id, after=last):
            last = event.id
            yield event
        if not follow:
            return
        clock = time.monotonic()
        if clock >= next_look:
            watched = running(ctx.store.home) is not None
            next_look = clock + (10.0 if watched else 1.0)
            live = [
                t
                for t in ctx.store.tasks(include_final=False)
                if task_id is None or t.id == task_id
            ]
            refresh(ctx, live)
            pause = 0.1 if watched else 1.0
        time.sleep(pause)


#: Status-line markers per state, in the order they are shown.
STATUS_MARKS = (
    ("waiting", "!"),
    ("stalled", "…"),
    ("working", "⚙"),
    ("starting", "⚙"),
    ("idle", "·"),
    ("failed", "✗"),
    ("lost", "?"),
)


def status_counts(ctx: Context) -> dict[str, int]:
    """Tasks per state, from the store alone (no tmux calls): cheap enough for a status line."""
    counts: dict[str, int] = {}
    for task in ctx.store.tasks():
        counts[task.state] = counts.get(task.state, 0) + 1
    return counts


def status_line(counts: dict[str, int]) -> str:
    """A short ``status-right`` segment, e.g. ``codex: 1! 3⚙``; empty with no tasks to show."""
    merged: dict[str, int] = {}
    for state, mark in STATUS_MARKS:
        if counts.get(state):
            merged[mark] = merged.get(mark, 0) + counts[state]
    if not merged:
        return ""
    return "codex: " + " ".join(f"{n}{mark}" for mark, n in merged.items())


# -- reading output -------------------------------------------------------------


def screen(ctx: Context, ref: str | None) -> str:
    task = _live_window(ctx, resolve(ctx, ref))
    assert task.pane_id is not None
    return Tmux(task.tmux_socket).capture(task.pane_id, join=True)


def read_log(task: Task, raw: bool = False, limit: int | None = None) -> bytes | str:
    """The task's log: raw bytes, or readable text (escapes gone, redraws rendered).

    With ``limit`` only the end of the log is read: the last ``limit`` bytes,
    or the last ``limit`` characters of the text (see ``logfile.render_tail``).
    Without, the whole log (``write_log`` streams it instead).
    """
    if raw and limit:
        from tmux_codex.logfile import raw_tail

        return raw_tail(task.log_path, limit)
    if limit:
        from tmux_codex.logfile import render_tail

        width, height = _log_size(task)
        return render_tail(task.log_path, limit, width, height, resumed=task.attempt > 1)
    pieces: list[str] = []
    chunks: list[bytes] = []
    write_log(task, pieces.append, chunks.append)
    return b"".join(chunks) if raw else "".join(pieces)


def write_log(
    task: Task,
    write_text: Callable[[str], object],
    write_bytes: Callable[[bytes], object] | None = None,
) -> None:
    """The whole log, piece by piece: raw bytes to ``write_bytes`` when given,
    else readable text to ``write_text``. Memory stays flat however long the log."""
    from tmux_codex.logfile import copy_raw, render_stream

    if write_bytes is not None:
        copy_raw(task.log_path, write_bytes)
        return
    width, height = _log_size(task)
    render_stream(task.log_path, write_text, width, height)


def _log_size(task: Task) -> tuple[int, int]:
    """The terminal size a task's log was drawn for (its pane's, when recorded)."""
    return task.width or 200, task.height or 50


#: The characters of the readable log a report reads (its end).
REPORT_TAIL = 100_000
#: The bytes of a log's start read for a session id (``codex exec`` prints it there).
REPORT_HEAD = 65536


def report(ctx: Context, ref: str | None) -> Report:
    """What a task did: state, duration, files changed, tests, tokens, last message."""
    task = refresh(ctx, [resolve(ctx, ref)])[0]
    return _build_report(task)


def report_text(task: Task) -> str:
    """The end of the task's readable log that a report reads (``REPORT_TAIL`` characters)."""
    text = read_log(task, limit=REPORT_TAIL)
    assert isinstance(text, str)
    return text


def report_dict(task: Task) -> dict[str, object]:
    """The report of ``task`` as JSON data (for the notify command)."""
    return _build_report(task).to_dict()


def _build_report(task: Task) -> Report:
    from tmux_codex.logfile import raw_head
    from tmux_codex.logtext import strip_escapes
    from tmux_codex.report import build

    head = "" if task.codex_session_id else strip_escapes(raw_head(task.log_path, REPORT_HEAD))
    return build(task, report_text(task), log_head=head)


# -- acting ---------------------------------------------------------------------


def _live_window(ctx: Context, task: Task) -> Task:
    task = refresh(ctx, [task])[0]
    if task.state == "lost" or not task.pane_id:
        raise NotPossible(f"task {task.id} ({task.name}) has no tmux window (state {task.state})")
    return task


def _live_process(ctx: Context, task: Task) -> Task:
    task = _live_window(ctx, task)
    if task.final:
        raise NotPossible(f"task {task.id} ({task.name}) is {task.state}: its Codex has exited")
    return task


def keys(ctx: Context, ref: str | None, key_names: list[str]) -> Task:
    task = _live_process(ctx, resolve(ctx, ref))
    assert task.pane_id is not None
    Tmux(task.tmux_socket).send_keys(task.pane_id, *key_names)
    ctx.store.audit(task.id, f"keys: {' '.join(key_names)}")
    return task


#: Prompts answered by one key, with no Enter after it (see CODEX.md).
_ONE_KEY_PROMPTS = {"approval": "ynpa", "edit": "ynpa"}


def send(
    ctx: Context, ref: str | None, text: str, enter: bool = True, timeout: float = 10.0
) -> Task:
    """Send text: typed as keys at a prompt, pasted into Codex's composer otherwise.

    At an approval or edit prompt the text must be one answer key (``y``,
    ``p``/``a``, ``n``). Into the composer the text goes by bracketed paste,
    then Enter; the call checks that the text left the composer.
    """
    from tmux_codex.composer import composer_line

    task = _live_process(ctx, resolve(ctx, ref))
    assert task.pane_id is not None
    tmux = Tmux(task.tmux_socket)
    pane = task.pane_id
    store = ctx.store
    if task.mode == "exec":
        raise NotPossible(f"task {task.id} runs 'codex exec', which reads no input")
    if task.state == "waiting" or text == "":
        one_key = _ONE_KEY_PROMPTS.get(task.reason or "") if task.state == "waiting" else None
        if one_key is not None and text and (len(text) != 1 or text.lower() not in one_key):
            raise BadInput(
                f"task {task.id} waits at an {task.reason} prompt: send one of "
                f"{', '.join(one_key)} (or 'tmux-codex keys {task.id} Escape' to refuse)"
            )
        if text:
            tmux.send_keys(pane, text, literal=True)
        press_enter = enter and one_key is None
        if press_enter:
            tmux.send_keys(pane, "Enter")
        store.audit(task.id, f"sent {text!r}" + (" + Enter" if press_enter else ""))
        return task
    buffer = f"tmux-codex-{task.id}-{os.getpid()}"
    before = composer_line(tmux.capture(pane))
    tmux.paste(pane, text, buffer=buffer)
    if not _wait(lambda: composer_line(tmux.capture(pane)) != before, timeout):
        store.audit(task.id, f"pasted a message ({len(text)} chars); it did not show")
        raise NotPossible(
            f"the text was pasted into task {task.id} but never showed in its composer; "
            f"see 'tmux-codex screen {task.id}'"
        )
    if not enter:
        store.audit(task.id, f"pasted a message ({len(text)} chars), no Enter")
        return task
    pasted = composer_line(tmux.capture(pane))
    tmux.send_keys(pane, "Enter")
    if not _wait(lambda: composer_line(tmux.capture(pane)) != pasted, timeout):
        store.audit(task.id, f"pasted a message ({len(text)} chars) + Enter; not submitted")
        raise NotPossible(
            f"the text was typed into task {task.id}'s composer but not submitted; "
            f"see 'tmux-codex screen {task.id}'"
        )
    store.set_state(
        task.id,
        "working",
        by="user",
        detail=f"sent a message ({len(text)} chars)",
        only_from=LIVE_STATES,
        audit=True,
    )
    return task


#: The key that answers each kind of prompt: yes, always (approve --always), no (deny).
ANSWER_KEYS: dict[str, dict[str, str]] = {
    "approval": {"yes": "y", "always": "p", "no": "Escape"},
    "edit": {"yes": "y", "always": "a", "no": "Escape"},
    "trust": {"yes": "Enter", "no": "Escape"},
    "question": {"yes": "Enter", "no": "Escape"},
    "menu": {"yes": "Enter", "no": "Escape"},
}
_VERBS = {"yes": "approved", "always": "approved always", "no": "denied"}


def answer(
    ctx: Context,
    ref: str | None,
    choice: str,
    *,
    by: str = "user",
    rule: str | None = None,
    expect_prompt: str | None = None,
    timeout: float = 10.0,
) -> Task:
    """Approve (``choice`` "yes" or "always") or deny ("no") the prompt a task waits at.

    Looks again first and acts only on a live prompt of a known kind that is
    the one last recorded (or ``expect_prompt``); sends the one key for that
    kind; then checks the prompt went away. Codex ignores keys for a moment
    after it draws a prompt: when the very same prompt is still up half way
    through ``timeout``, the key is sent once more (never blindly: a fresh
    capture shows the prompt it was meant for). Each key is an event naming
    who sent it, the rule (for a policy) and the prompt.
    """
    task = resolve(ctx, ref)
    seen = expect_prompt
    if seen is None and task.state == "waiting":
        seen = task.prompt_text
    verb = "approve" if choice != "no" else "deny"
    task = _live_process(ctx, task)
    if task.state != "waiting" or task.reason not in ANSWER_KEYS:
        raise NotPossible(f"task {task.id} ({task.name}) is {task.label}: nothing to {verb}")
    if seen is not None and task.prompt_text != seen:
        raise NotPossible(
            f"task {task.id} ({task.name}) shows another prompt than the one last seen: "
            f"look again ('tmux-codex show {task.id}') and retry"
        )
    key = ANSWER_KEYS[task.reason or ""].get(choice)
    if key is None:
        raise BadInput(f"--always works at approval and edit prompts, not at a {task.reason} one")
    assert task.pane_id is not None
    tmux = Tmux(task.tmux_socket)
    prompt = task.prompt_text
    why = f" ({rule})" if rule else ""
    # The key goes only to a prompt that is on the screen: a hook may have told of
    # one Codex has not drawn yet (a key now would land in the composer).
    drawn = on_screen(task)
    if drawn is None or drawn.state != "waiting" or drawn.reason != task.reason:
        raise NotPossible(
            f"task {task.id} ({task.name}) has no {task.reason} prompt on its screen yet: "
            "try again in a moment"
        )
    if not _shows(task, drawn):
        raise NotPossible(
            f"task {task.id} ({task.name}) shows another prompt than the one last seen: "
            f"look again ('tmux-codex show {task.id}') and retry"
        )

    def still_up() -> bool:
        # The very prompt the key was sent to, as the screen shows it (the next one of
        # the turn may be about the same kind of thing, never with the same screen).
        refresh(ctx, [task])
        now = on_screen(task)
        return now is not None and now.state == "waiting" and now.prompt_text == drawn.prompt_text

    detail = f"{_VERBS[choice]}{why}: key {key}\n{prompt or ''}".rstrip()
    tmux.send_keys(task.pane_id, key)
    ctx.store.audit(task.id, detail, by=by)
    if _wait(lambda: not still_up(), timeout / 2, 0.1):
        return ctx.store.get(task.id) or task
    tmux.send_keys(task.pane_id, key)
    ctx.store.audit(task.id, f"{detail.splitlines()[0]} (again: the prompt ignored it)", by=by)
    if _wait(lambda: not still_up(), timeout / 2, 0.1):
        return ctx.store.get(task.id) or task
    raise NotPossible(
        f"sent {key} to task {task.id} ({task.name}) but its prompt is still up; "
        f"see 'tmux-codex screen {task.id}'"
    )


def _shows(task: Task, drawn: Verdict) -> bool:
    """Whether the prompt on screen is the one the task's ``prompt_text`` describes.

    The text may be a hook's request (the complete command): then the screen
    must show that very request, not another of the turn's.
    """
    from tmux_codex import pending

    mine = [r for r in pending.load(task.hook_request) if r.prompt == task.prompt_text]
    if mine:
        return any(pending.matches(r, drawn.reason, drawn.prompt_text) for r in mine)
    return drawn.prompt_text == task.prompt_text


def on_screen(task: Task) -> Verdict | None:
    """What the task's pane shows now, by the screen alone (no hook, no store); None if gone."""
    from tmux_codex.classify import classify

    if not task.pane_id:
        return None
    panes, screens = Tmux(task.tmux_socket).snapshot([task.pane_id])
    info = _pane_for(task, panes)
    screen = screens.get(task.pane_id)
    if info is None or info.dead or screen is None:
        return None
    return classify(screen, info.title, task.mode)


def poke(ctx: Context, ref: str | None, by: str = "user", why: str = "") -> Task:
    """Press Enter once in a task's window (a silent TUI redraws; a stuck prompt may go on)."""
    task = _live_process(ctx, resolve(ctx, ref))
    if task.mode == "exec":
        raise NotPossible(f"task {task.id} runs 'codex exec', which reads no input")
    if task.state == "waiting":
        # Enter would pick the prompt's highlighted choice: that is approve's job.
        raise NotPossible(
            f"task {task.id} ({task.name}) waits at a {task.reason} prompt: "
            f"'tmux-codex approve {task.id}' or 'deny {task.id}' answers it"
        )
    if by == "monitor" and task.state != "stalled":
        return task
    assert task.pane_id is not None
    Tmux(task.tmux_socket).send_keys(task.pane_id, "Enter")
    ctx.store.audit(task.id, f"poked: pressed Enter{': ' + why if why else ''}", by=by)
    return task


def _wait(predicate: object, timeout: float, interval: float = 0.05) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def kill(
    ctx: Context,
    ref: str | None,
    timeout: float = 10.0,
    by: str = "user",
    why: str = "killed by tmux-codex kill",
) -> Task:
    """End the task's Codex; the window stays with its last screen. State ``killed``."""
    task = _live_process(ctx, resolve(ctx, ref))
    tmux = Tmux(task.tmux_socket)
    ctx.store.set_state(task.id, "killed", by=by, detail=why, only_from=LIVE_STATES)
    info = _pane_for(task, tmux.panes())
    if info is not None and not info.dead and info.pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(info.pid, signal.SIGTERM)

        def dead() -> bool:
            now = tmux.panes().get(task.window_id or "")
            return now is None or now.dead

        if not _wait(dead, timeout, 0.1):
            # Codex ignored SIGTERM: SIGKILL it (the foreground group of the
            # pane's terminal), and the shim records the end as usual.
            _kill_foreground(info.pid)
            if not _wait(dead, timeout, 0.1):
                tmux.run("respawn-pane", "-k", "-t", info.pane_id, "true", check=False)
    killed = ctx.store.get(task.id)
    assert killed is not None
    return killed


def _kill_foreground(pid: int) -> None:
    """SIGKILL the foreground process group of ``pid``'s terminal (the pane's Codex).

    Read from ``/proc/PID/stat`` (its ``tpgid``): ``tcgetpgrp`` answers only
    for one's own terminal. Where there is no ``/proc`` this does nothing.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        group = int(fields[5])  # state ppid pgrp session tty_nr tpgid
    except (OSError, IndexError, ValueError):
        return
    if group > 0 and group != os.getpgrp():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def remove(ctx: Context, ref: str | None, purge: bool = False) -> Task:
    task = refresh(ctx, [resolve(ctx, ref)])[0]
    if not task.final:
        raise NotPossible(
            f"task {task.id} ({task.name}) is {task.state}: 'tmux-codex kill {task.id}' first"
        )
    if task.window_id:
        info = _pane_for(task, Tmux(task.tmux_socket).panes())
        if info is not None:
            Tmux(task.tmux_socket).kill_window(task.window_id)
    ctx.store.delete(task.id)
    env_path(ctx.store.home, task.id).unlink(missing_ok=True)
    prompt_path(ctx.store.home, task.id).unlink(missing_ok=True)
    if purge:
        Path(task.log_path).unlink(missing_ok=True)
    return task


#: States in which a task needs its user, for "jump to the next one".
NEEDS_USER = ("waiting", "stalled", "failed")


def next_needing(ctx: Context, after_window: str | None = None) -> Task | None:
    """The next task (by id, after the one in ``after_window``, wrapping) that needs its user.

    Waiting and stalled tasks come before failed ones; only tasks whose
    window is still there count.
    """
    live = refresh(ctx, ctx.store.tasks(include_final=False))
    seen = {t.id for t in live}
    tasks = live + [t for t in ctx.store.tasks() if t.state == "failed" and t.id not in seen]
    panes: dict[str, dict[str, PaneInfo]] = {}
    candidates = []
    for task in tasks:
        if task.state not in NEEDS_USER or not task.window_id:
            continue
        if task.tmux_socket not in panes:
            panes[task.tmux_socket] = Tmux(task.tmux_socket).panes()
        if _pane_for(task, panes[task.tmux_socket]) is not None:
            candidates.append(task)
    if not candidates:
        return None
    candidates.sort(key=lambda t: (t.state == "failed", t.id))
    current = next((t for t in candidates if t.window_id == after_window), None)
    if current is None:
        return candidates[0]
    return candidates[(candidates.index(current) + 1) % len(candidates)]


def inside_server(socket: str) -> bool:
    """Whether this process runs inside a pane of the tmux server ``socket``."""
    current = os.environ.get("TMUX", "")
    if not current:
        return False
    return os.path.basename(current.split(",")[0]) == (socket or "default")


def attach_argv(ctx: Context, ref: str | None) -> list[str]:
    """The tmux command that shows the task's window (run it, or exec it)."""
    task = _live_window(ctx, resolve(ctx, ref))
    assert task.window_id is not None
    tmux = Tmux(task.tmux_socket)
    tmux.run("select-window", "-t", task.window_id)
    if inside_server(task.tmux_socket):
        return [*tmux.base(), "switch-client", "-t", task.window_id]
    return [*tmux.base(), "attach-session", "-t", task.window_id]
