"""Resume an ended task: the same Codex session, in a window again, the same log.

The seed workflow's resume protocol as one command: ``codex resume <id>``
(TUI) or ``codex exec resume <id> PROMPT`` (exec) runs in a new window of the
task (its old one, if still there, is closed first: a respawned pane would
turn its log pipe off), the task's ``attempt`` goes up, the log gets a
separator line and then everything the resumed Codex prints, and the call
checks that Codex picked the conversation up.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tmux_codex.codex.hooks import codex_flags, definitions
from tmux_codex.codex.logtext import RESUME_SEPARATOR, SEPARATOR_LEAD
from tmux_codex.codex.output import visible_text
from tmux_codex.codex.probe import installed_version
from tmux_codex.codex.sessions import exec_session_id, find_session
from tmux_codex.core.errors import NotPossible, TaskNotFound
from tmux_codex.core.models import FINAL_STATES, Task, now
from tmux_codex.core.paths import env_path, prompt_path
from tmux_codex.core.wake import wake
from tmux_codex.tasks.context import Context, resolve
from tmux_codex.tasks.launch import notify_arg, open_window, write_environment, write_prompt
from tmux_codex.tasks.refresh import pane_for, refresh
from tmux_codex.tasks.slots import admission
from tmux_codex.tmux.server import Tmux

#: How much of what a resumed run wrote is read to see it took the conversation up.
_VERIFY_READ = 4 << 20
#: What a resumed exec task is told when no prompt is given.
DEFAULT_EXEC_PROMPT = "Continue the task where you left off."


def resume_argv(task: Task, prompt: str | None, own: list[str] | None = None) -> list[str]:
    """Codex's argv to resume the task's session: its flags as before, then ``resume``.

    A task's argv always ends ``-C WORKDIR [resume] -- …``; everything before
    that (codex, its flags, ``--codex-arg`` values) is kept, except that
    tmux-codex's own ``-c notify=…``/``-c hooks.…`` flags are replaced by
    ``own`` when given: the programs they run are this tmux-codex's (its
    Python, its module paths), not those of the one that started the task.
    """
    assert task.codex_session_id is not None
    argv = task.argv
    cut = next(
        (
            i
            for i in range(len(argv) - 2, -1, -1)
            if argv[i] == "-C" and argv[i + 1] == task.workdir
        ),
        None,
    )
    if cut is None:
        raise NotPossible(f"task {task.id} has no recorded Codex command line to resume with")
    # exec: "-", the prompt comes on stdin (see write_prompt)
    tail = ["-"] if task.mode == "exec" else [prompt] if prompt else []
    head = argv[:cut]
    if own is not None:
        head = _without_own_flags(head) + own
    return [*head, "-C", task.workdir, "resume", "--", task.codex_session_id, *tail]


def _without_own_flags(argv: list[str]) -> list[str]:
    """``argv`` without the ``-c notify=…`` and ``-c hooks.…`` pairs tmux-codex adds."""
    kept: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "-c" and i + 1 < len(argv) and argv[i + 1].startswith(("notify=", "hooks.")):
            i += 2
            continue
        kept.append(argv[i])
        i += 1
    return kept


def separator_bytes(attempt: int, at: str) -> bytes:
    """What is written into the log before run ``attempt``: a line of its own
    (after ``CR LF`` and a colour reset, whatever the last run left), which the
    readable log keeps between the runs."""
    line = f"{RESUME_SEPARATOR.decode()}, attempt {attempt}, {at} ====\r\n"
    return SEPARATOR_LEAD + line.encode()


def resume(
    ctx: Context,
    ref: str | None,
    prompt: str | None = None,
    by: str = "user",
    verify: float = 60.0,
    max_parallel: int | None = None,
) -> Task:
    """Resume an ended task's Codex session; the task, running again.

    With ``[fleet] max_parallel`` tasks live (``max_parallel``: the config's
    when None), it is ``queued`` instead (reason ``slot``), ready to run as
    resumed: the monitor starts it when a slot frees.
    """
    if max_parallel is None:
        max_parallel = ctx.config.fleet.max_parallel
    task = refresh(ctx, [resolve(ctx, ref)])[0]
    if not task.final:
        raise NotPossible(
            f"task {task.id} ({task.name}) is {task.state}: only an ended task can be resumed"
        )
    if not task.codex_session_id and task.mode == "tui" and task.codex_home:
        taken = frozenset(
            t.codex_session_id for t in ctx.store.tasks() if t.codex_session_id and t.id != task.id
        )
        found = find_session(
            Path(task.codex_home), task.workdir, task.created_at, task.prompt, taken
        )
        if found:  # the monitor had not found its rollout file yet
            ctx.store.update(task.id, codex_session_id=found)
            task = ctx.store.get(task.id) or task
    if not task.codex_session_id:
        raise NotPossible(
            f"task {task.id} ({task.name}) has no known Codex session id, so it cannot be "
            "resumed; start a new task instead"
        )
    home = ctx.store.home
    own = ["-c", notify_arg(home, task.id), *codex_flags(definitions(home, task.id))]
    argv = resume_argv(task, prompt, own)
    attempt = task.attempt + 1
    store = ctx.store
    tmux = Tmux(task.tmux_socket)
    if task.window_id:  # closed first: the new window is the task's only one
        try:
            if pane_for(task, tmux.panes()) is not None:
                tmux.kill_window(task.window_id)
        except Exception:  # its tmux server is gone: a new one is started
            pass
    log = Path(task.log_path)
    fields = _fresh_run(argv, attempt, store.home)
    detail = f"resumed Codex session {task.codex_session_id} (attempt {attempt})"
    # Claimed (only from an ended state: two resumes never both run) and, at
    # [fleet] max_parallel, queued with its new command line in one
    # transaction: the monitor can start it only as resumed.
    written = False
    try:
        with store.transaction():
            now_stored = store.get(task.id)
            if now_stored is None:
                raise TaskNotFound(f"no task {task.id}: it was removed meanwhile")
            waits = admission(store, max_parallel, ()) if max_parallel > 0 else None
            if now_stored.attempt != task.attempt or not store.set_state(
                task.id,
                "queued" if waits else "starting",
                reason=waits,
                by=by,
                detail=f"{detail}: waits for a slot" if waits else detail,
                only_from=FINAL_STATES,
            ):
                raise NotPossible(f"task {task.id} ({task.name}) is being resumed already")
            # Only the resume that claimed it leaves what its run reads (before the
            # commit: the monitor may start a queued one as soon as it is committed).
            written = True
            if task.mode == "exec":
                write_prompt(home, task.id, prompt or DEFAULT_EXEC_PROMPT)
            if waits:  # it runs with the environment of this 'resume' (its CODEX_HOME too)
                write_environment(home, task.id, task.codex_home)
            offset = log.stat().st_size if log.exists() else 0
            separator = separator_bytes(attempt, now())
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, separator)
            finally:
                os.close(fd)
            store.update(task.id, **fields)
    except BaseException:
        if written:  # what only a run reads goes with the claim that failed
            env_path(home, task.id).unlink(missing_ok=True)
            prompt_path(home, task.id).unlink(missing_ok=True)
        raise
    if waits:
        wake(store.home, task.id)  # the monitor starts it when a slot frees
        return store.get(task.id) or task
    try:
        resumed = open_window(store, store.get(task.id) or task)
    except BaseException as exc:
        store.set_state(task.id, "failed", by=by, detail=f"could not resume: {exc}", error=str(exc))
        wake(store.home, task.id)
        raise
    wake(store.home, task.id)
    if verify > 0:
        _verify(ctx, resumed, offset + len(separator), verify)
    return store.get(task.id) or resumed


def _fresh_run(argv: list[str], attempt: int, home: Path) -> dict[str, object]:
    """The task's fields for a new run of Codex (``attempt``) with ``argv``."""
    return {
        "argv": argv,
        "attempt": attempt,
        "exit_code": None,
        "prompt_text": None,
        "error": None,
        "shim_pid": None,
        "window_id": None,
        "pane_id": None,
        "hook_at": None,
        "hook_event": None,
        "hook_request": None,
        "codex_version": installed_version(argv[0], home),  # upgraded since, perhaps
    }


def _verify(ctx: Context, task: Task, offset: int, timeout: float) -> None:
    """Check that the resumed Codex took the conversation up (NotPossible if not).

    exec prints the session id it runs in its header; the TUI shows the
    earlier conversation again, the task's first prompt included.
    """
    from tmux_codex.codex.transcript import render

    session = (task.codex_session_id or "").lower()
    first = next((line.strip() for line in (task.prompt or "").splitlines() if line.strip()), "")
    needle = first[:40]
    deadline = time.monotonic() + timeout

    def picked_up() -> bool:
        with open(task.log_path, "rb") as fh:  # only what the resumed run wrote
            fh.seek(offset)
            raw = fh.read(_VERIFY_READ)
        if task.mode == "exec":
            found = exec_session_id(visible_text(raw))
            if found is not None and found != session:
                raise NotPossible(f"task {task.id} resumed into session {found}, not {session}")
            return found is not None
        return not needle or needle in render(raw, task.width or 120, task.height or 40)

    while not picked_up():
        current = ctx.store.get(task.id)
        if current is not None and current.final and not picked_up():
            raise NotPossible(
                f"the resumed Codex of task {task.id} ended ({current.state}) without showing "
                f"the earlier conversation; see 'tmux-codex log {task.id}'"
            )
        if time.monotonic() > deadline:
            raise NotPossible(
                f"task {task.id} was resumed, but Codex never showed the earlier conversation; "
                f"see 'tmux-codex screen {task.id}'"
            )
        time.sleep(0.2)
