"""Reading tasks: list, show, wait, events, the status line, screens and logs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from tmux_codex.core.models import FINAL_STATES, Event, Task
from tmux_codex.tasks import vouch
from tmux_codex.tasks.context import Context, inside_server, resolve

if TYPE_CHECKING:
    from tmux_codex.tmux.server import PaneInfo

# tmux and the classifier are imported where needed: a read the running
# monitor vouches for needs neither (see tmux_codex.tasks.vouch).


def list_tasks(ctx: Context, include_final: bool = False, state: str | None = None) -> list[Task]:
    """The tasks (live ones only, unless ``include_final`` or ``state``), up to date."""
    word = vouch.read_word(ctx.store.home)  # before the store: see tasks.vouch
    tasks = vouch.current(ctx, ctx.store.tasks(include_final or state is not None), word)
    if not include_final and state is None:
        tasks = [t for t in tasks if t.state not in FINAL_STATES]
    if state is not None:
        wanted = set(state.split(","))
        tasks = [t for t in tasks if t.state in wanted]
    return tasks


def show(ctx: Context, ref: str | None) -> Task:
    word = vouch.read_word(ctx.store.home)
    return vouch.current(ctx, [resolve(ctx, ref)], word)[0]


def wait(
    ctx: Context, ref: str | None, states: frozenset[str], timeout: float, interval: float = 0.5
) -> tuple[Task, bool]:
    """Wait until the task is in one of ``states``: the task, and whether it got there.

    With a monitor running, the store is read every 50 ms (the monitor keeps
    it current) and tmux is asked only every few seconds, as a safety net.
    With none, each look refreshes the task from tmux. A task that ended in
    another state will not get there: that returns at once.
    """
    from tmux_codex.core.lock import running

    task = resolve(ctx, ref)
    deadline = time.monotonic() + timeout
    next_refresh = 0.0
    while True:
        clock = time.monotonic()
        if clock >= next_refresh:
            from tmux_codex.tasks.refresh import refresh

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
    from tmux_codex.core.lock import running

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
            from tmux_codex.tasks.refresh import refresh

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
    ("queued", "⏸"),
    ("failed", "✗"),
    ("lost", "?"),
)


def status_counts(ctx: Context) -> dict[str, int]:
    """Tasks per state, from the store alone (no tmux calls): cheap enough for a status line."""
    counts: dict[str, int] = {}
    for task in ctx.store.tasks():
        counts[task.state] = counts.get(task.state, 0) + 1
    return counts


def fleet_tokens(ctx: Context) -> dict[str, int]:
    """Tokens of every task in the store, added up (tasks whose count is unknown add nothing)."""
    totals = {"input": 0, "output": 0, "total": 0, "tasks": 0}
    for task in ctx.store.tasks():
        if task.tokens:
            totals["tasks"] += 1
            for key in ("input", "output", "total"):
                totals[key] += task.tokens.get(key) or 0
    return totals


def status_line(counts: dict[str, int]) -> str:
    """A short ``status-right`` segment, e.g. ``codex: 1! 3⚙``; empty with no tasks to show."""
    merged: dict[str, int] = {}
    for state, mark in STATUS_MARKS:
        if counts.get(state):
            merged[mark] = merged.get(mark, 0) + counts[state]
    if not merged:
        return ""
    return "codex: " + " ".join(f"{n}{mark}" for mark, n in merged.items())


def screen(ctx: Context, ref: str | None) -> str:
    from tmux_codex.tasks.refresh import live_window
    from tmux_codex.tmux.server import Tmux

    task = live_window(ctx, resolve(ctx, ref))
    assert task.pane_id is not None
    return Tmux(task.tmux_socket).capture(task.pane_id, join=True)


def read_log(task: Task, raw: bool = False, limit: int | None = None) -> bytes | str:
    """The task's log: raw bytes, or readable text (escapes gone, redraws rendered).

    With ``limit`` only the end of the log is read: the last ``limit`` bytes,
    or the last ``limit`` characters of the text (see ``logtail.render_tail``).
    Without, the whole log (``write_log`` streams it instead).
    """
    if raw and limit:
        from tmux_codex.tasks.logfile import raw_tail

        return raw_tail(task.log_path, limit)
    if limit:
        from tmux_codex.tasks.logtail import render_tail

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
    from tmux_codex.tasks.logfile import copy_raw, render_stream

    if write_bytes is not None:
        copy_raw(task.log_path, write_bytes)
        return
    width, height = _log_size(task)
    render_stream(task.log_path, write_text, width, height)


def _log_size(task: Task) -> tuple[int, int]:
    """The terminal size a task's log was drawn for (its pane's, when recorded)."""
    return task.width or 200, task.height or 50


#: States in which a task needs its user, for "jump to the next one".
NEEDS_USER = ("waiting", "stalled", "failed")


def next_needing(ctx: Context, after_window: str | None = None) -> Task | None:
    """The next task (by id, after the one in ``after_window``, wrapping) that needs its user.

    Waiting and stalled tasks come before failed ones; only tasks whose
    window is still there count.
    """
    from tmux_codex.tasks.refresh import pane_for
    from tmux_codex.tmux.server import Tmux

    word = vouch.read_word(ctx.store.home)
    live = vouch.current(ctx, ctx.store.tasks(include_final=False), word)
    seen = {t.id for t in live}
    tasks = live + [t for t in ctx.store.tasks() if t.state == "failed" and t.id not in seen]
    panes: dict[str, dict[str, PaneInfo]] = {}
    candidates = []
    for task in tasks:
        if task.state not in NEEDS_USER or not task.window_id:
            continue
        if task.tmux_socket not in panes:
            panes[task.tmux_socket] = Tmux(task.tmux_socket).panes()
        if pane_for(task, panes[task.tmux_socket]) is not None:
            candidates.append(task)
    if not candidates:
        return None
    candidates.sort(key=lambda t: (t.state == "failed", t.id))
    current = next((t for t in candidates if t.window_id == after_window), None)
    if current is None:
        return candidates[0]
    return candidates[(candidates.index(current) + 1) % len(candidates)]


def attach_argv(ctx: Context, ref: str | None) -> list[str]:
    """The tmux command that shows the task's window (run it, or exec it)."""
    from tmux_codex.tasks.refresh import live_window
    from tmux_codex.tmux.server import Tmux

    task = live_window(ctx, resolve(ctx, ref))
    assert task.window_id is not None
    tmux = Tmux(task.tmux_socket)
    tmux.run("select-window", "-t", task.window_id)
    if inside_server(task.tmux_socket):
        return [*tmux.base(), "switch-client", "-t", task.window_id]
    return [*tmux.base(), "attach-session", "-t", task.window_id]
