"""Acting on a task: keys, send, answer a prompt, poke, kill, remove."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tmux_codex.core.errors import BadInput, NotPossible
from tmux_codex.core.models import FINAL_STATES, LIVE_STATES, Task
from tmux_codex.core.paths import env_path, prompt_path
from tmux_codex.core.wake import wake
from tmux_codex.tasks.context import Context, resolve
from tmux_codex.tasks.refresh import live_window, pane_for, refresh
from tmux_codex.tmux.server import Tmux

if TYPE_CHECKING:
    from tmux_codex.codex.classify import Verdict

#: The key that answers each kind of prompt: yes, always (approve --always), no (deny).
ANSWER_KEYS: dict[str, dict[str, str]] = {
    "approval": {"yes": "y", "always": "p", "no": "Escape"},
    "edit": {"yes": "y", "always": "a", "no": "Escape"},
    "trust": {"yes": "Enter", "no": "Escape"},
    "question": {"yes": "Enter", "no": "Escape"},
    "menu": {"yes": "Enter", "no": "Escape"},
}


def _live_process(ctx: Context, task: Task) -> Task:
    """The task brought up to date; its Codex must still run."""
    task = live_window(ctx, task)
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
    from tmux_codex.codex.composer import composer_line

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
    # A guess (a slash command starts no turn): the monitor looks, and keeps or mends it.
    wake(store.home, task.id)
    return task


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
    from tmux_codex.codex import pending

    mine = [r for r in pending.load(task.hook_request) if r.prompt == task.prompt_text]
    if mine:
        return any(pending.matches(r, drawn.reason, drawn.prompt_text) for r in mine)
    return drawn.prompt_text == task.prompt_text


def on_screen(task: Task) -> Verdict | None:
    """What the task's pane shows now, by the screen alone (no hook, no store); None if gone."""
    from tmux_codex.codex.classify import classify

    if not task.pane_id:
        return None
    panes, screens = Tmux(task.tmux_socket).snapshot([task.pane_id])
    info = pane_for(task, panes)
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
    """End the task's Codex; the window stays with its last screen. State ``killed``.

    A queued task is taken out of the queue (it never started).
    """
    task = resolve(ctx, ref)
    if task.state == "queued" and ctx.store.set_state(
        task.id, "killed", by=by, detail=f"{why}: taken out of the queue",
        only_from=frozenset({"queued"}),
    ):  # fmt: skip
        _forget_files(ctx, task)
        wake(ctx.store.home, task.id)  # the tasks that run after it fail now
        killed = ctx.store.get(task.id)
        assert killed is not None
        return killed
    task = _live_process(ctx, task)
    tmux = Tmux(task.tmux_socket)
    ctx.store.set_state(task.id, "killed", by=by, detail=why, only_from=LIVE_STATES)
    info = pane_for(task, tmux.panes())
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
    if not task.final and task.state != "queued":
        raise NotPossible(
            f"task {task.id} ({task.name}) is {task.state}: 'tmux-codex kill {task.id}' first"
        )
    if task.window_id:
        info = pane_for(task, Tmux(task.tmux_socket).panes())
        if info is not None:
            Tmux(task.tmux_socket).kill_window(task.window_id)
    if not ctx.store.delete(task.id, only_from=FINAL_STATES | {"queued"}):
        raise NotPossible(f"task {task.id} ({task.name}) started meanwhile: kill it first")
    _forget_files(ctx, task)
    wake(ctx.store.home, task.id)
    if purge:
        Path(task.log_path).unlink(missing_ok=True)
    return task


def _forget_files(ctx: Context, task: Task) -> None:
    """The environment and prompt files left for the task's shim."""
    env_path(ctx.store.home, task.id).unlink(missing_ok=True)
    prompt_path(ctx.store.home, task.id).unlink(missing_ok=True)
