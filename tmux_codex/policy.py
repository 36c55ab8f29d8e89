"""Policies: pure decisions on what to do for a task, given its state and the config.

Nothing here sends a key or reads a file; the monitor carries decisions out
(through the same code as ``approve``/``kill``/``resume``) and records each
one as an event ``by: "policy"`` naming the rule that fired. Every policy is
off by default except ``trust_workdir``.

Deny always wins: a deny pattern is searched in the whole prompt text (the
command, its reason, any wrapped or multi-line part), an allow pattern only
has to match the command. A command that matches no allow pattern waits for a
person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tmux_codex.config import PolicyConfig
from tmux_codex.models import Task

#: The command line of an approval prompt (``$ echo hi``), as the classifier joined it.
_COMMAND_LINE = re.compile(r"^\$ (.*)$", re.MULTILINE)
#: The folder line of the trust menu: the line after "Folder access" (or any line that is a path).
_PATH_LINE = re.compile(r"^(/\S.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Decision:
    """What a policy says about a task: act (``choice`` set) or leave it to a person."""

    rule: str  # the rule that fired, e.g. "allow_commands[0] '^pytest\\b'"
    choice: str | None  # "yes" (answer the prompt) or None (wait for a person)
    detail: str  # why, in one line


def command_of(prompt_text: str) -> str | None:
    """The command an approval prompt asks about (its one ``$ …`` line), or None.

    The prompt's "Reason:" text comes from the model and could hold a line
    that looks like a command: with more than one ``$`` line there is no
    telling which is real, so there is none (the prompt waits for a person).
    """
    found = _COMMAND_LINE.findall(prompt_text)
    return found[0].strip() if len(found) == 1 else None


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False  # config validation rejects these; never fire on one


def on_prompt(task: Task, config: PolicyConfig) -> Decision | None:
    """What the policies say about the prompt a ``waiting`` task shows; None: not their business."""
    if task.state != "waiting" or not task.prompt_text:
        return None
    text = task.prompt_text
    if task.reason == "trust":
        if not config.trust_workdir:
            return None
        folders = [line.rstrip() for line in _PATH_LINE.findall(text)]
        if task.workdir in folders:
            return Decision("trust_workdir", "yes", f"the task's own workdir {task.workdir}")
        return Decision(
            "trust_workdir", None, "the menu is for another folder than the task's workdir"
        )
    if task.reason != "approval" or config.approve != "allowlist":
        return None
    for index, pattern in enumerate(config.deny_commands):
        if _search(pattern, text):
            return Decision(
                f"deny_commands[{index}] {pattern!r}", None, "a deny pattern matches: not approved"
            )
    command = command_of(text)
    if command is None:
        return Decision("allowlist", None, "not exactly one command line in the prompt")
    for index, pattern in enumerate(config.allow_commands):
        if _search(pattern, command):
            return Decision(f"allow_commands[{index}] {pattern!r}", "yes", f"approved: {command}")
    return Decision("allowlist", None, f"no allow pattern matches {command!r}: waits for a person")


def should_kill(
    task: Task, silent_for: float, config: PolicyConfig, looping: bool = False
) -> Decision | None:
    """``kill_after``: a task stalled (or, with ``looping``, looping) that long is killed."""
    if config.kill_after <= 0 or silent_for < config.kill_after:
        return None
    if looping:
        if task.state not in ("working", "stalled"):
            return None
        what = "looping"
    elif task.state == "stalled":
        what = "stalled"
    else:
        return None
    return Decision(
        "kill_after", "kill", f"{what} for {silent_for:.0f}s (kill_after {config.kill_after:g}s)"
    )


def resume_delay(task: Task, config: PolicyConfig, resumes: int, tmux_up: bool) -> float | None:
    """``max_resumes``: seconds to wait before resuming a lost or failed TUI task, or None.

    Never for exec tasks, tasks with no session id, once ``max_resumes``
    automatic resumes were made, or while the task's tmux server is down
    (resuming would only fail again: no loop). Backoff doubles from 5 s.
    """
    if (
        config.max_resumes <= 0
        or task.mode != "tui"
        or task.state not in ("lost", "failed")
        or not task.codex_session_id
        or resumes >= config.max_resumes
        or not tmux_up
    ):
        return None
    return 5.0 * float(2**resumes)
