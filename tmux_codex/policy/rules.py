"""Policies: pure decisions on what to do for a task, given its state and the config.

Nothing here sends a key or reads a file; the monitor and Codex's
PermissionRequest hook carry decisions out and record each one as an event
``by: "policy"`` naming the rule that fired. Every policy is off by default
except ``trust_workdir``.

The command allowlist decides on the complete command as Codex will run it
(:func:`on_command`, given by the PermissionRequest hook), read as shell by
tree-sitter-bash (:mod:`tmux_codex.shell`): it approves only a plain command
each of whose simple commands matches an allow pattern, and nothing that a
deny pattern matches, in the whole command or any part of it. Everything else
waits for a person, and so does every edit. Where hooks are off the same
decision is made on the prompt's screen text (:func:`on_prompt`), only when
the screen shows the whole command and nothing else could pass for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tmux_codex.core.config import PolicyConfig
from tmux_codex.core.models import Task
from tmux_codex.policy.shell import parse

#: The folder line of the trust menu: the line after "Folder access" (or any line that is a path).
_PATH_LINE = re.compile(r"^(/\S.*)$", re.MULTILINE)
#: Codex cuts a long command on screen: ``[… 48 lines] ^a view all`` (or ``…`` alone).
_TRUNCATED = re.compile(r"\[…|\.\.\. \d+ lines|view all|…")
#: A command read from the screen (hooks off) holds only these: no quote, backslash,
#: operator or expansion whose meaning a hidden character could change.
_SCREEN_SAFE = re.compile(r"[A-Za-z0-9 ._/=:,@%+-]+")
#: The tool Codex names for a shell command in its PermissionRequest hook (CODEX.md).
SHELL_TOOLS = frozenset({"Bash"})


@dataclass(frozen=True)
class Decision:
    """What a policy says about a task: act (``choice`` set) or leave it to a person."""

    rule: str  # the rule that fired, e.g. "allow_commands[0] '^pytest\\b'"
    choice: str | None  # "yes" (answer the prompt) or None (wait for a person)
    detail: str  # why, in one line


def command_of(prompt_text: str) -> str | None:
    """The command an approval prompt shows, when the screen shows all of it; else None.

    Codex draws the model's "Reason:" above the command, and a long reason
    wraps: a line of it may look like ``$ ls``. So the command line must be
    the only line starting with ``$``, nothing above it may hold a ``$``, and
    the answer options must follow it at once (the classifier never joins a
    line onto a ``$`` line, so a second line of command, or a long one that
    wrapped, shows here as a line of its own); a truncated command
    (``[… 48 lines]``) is never the whole command.
    """
    lines = prompt_text.splitlines()
    dollars = [i for i, line in enumerate(lines) if line.lstrip().startswith("$")]
    if len(dollars) != 1:
        return None
    at = dollars[0]
    line = lines[at].strip()
    if not line.startswith("$ ") or not line[2:].strip():
        return None
    if "$" in "\n".join(lines[:at]):
        return None  # the reason holds a "$": it could pass for (part of) a command
    after = [rest.strip() for rest in lines[at + 1 :] if rest.strip()]
    if after and not re.match(r"^(›\s*)?1\.", after[0]):
        return None  # a second line of command (or anything else) follows
    command = line[2:].strip()
    if _TRUNCATED.search(command) or any(_TRUNCATED.search(rest) for rest in after[:1]):
        return None
    return command


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False  # config validation rejects these; never fire on one


def allows(pattern: str, canonical: str) -> bool:
    """Whether an allow pattern covers a simple command (its standard spelling).

    It must match from the command's first character, and end where a word
    does: ``^ls\\b`` allows ``ls -la`` but not ``ls/x`` (a program in ``./ls/``),
    ``ls-evil`` or ``ls.sh``; ``^git (status|diff)\\b`` not ``git status-x``.
    """
    try:
        match = re.match(pattern, canonical)
    except re.error:
        return False
    if match is None:
        return False
    end = match.end()
    return end == len(canonical) or canonical[end] == " " or canonical[end - 1] == " "


def on_command(tool: str, command: str, config: PolicyConfig, utf8: bool = True) -> Decision | None:
    """The allowlist on a complete command (the PermissionRequest hook's); None: not on.

    ``utf8``: the command runs in a UTF-8 (or C) locale; otherwise only ASCII
    is read. Approves (``choice`` "yes") only when the command is plain shell, no deny
    pattern matches it or any of its simple commands (as written, or re-quoted
    the standard way), and an allow pattern covers every simple command (see
    :func:`allows`).
    """
    if config.approve != "allowlist":
        return None
    if tool not in SHELL_TOOLS:
        return Decision("allowlist", None, f"{tool} requests are never approved by the allowlist")
    if not utf8 and not command.isascii():
        # In a multibyte locale other than UTF-8 (GBK, Big5) a byte of a character
        # may take the backslash after it: bash would read another command.
        return Decision(
            "allowlist", None, "non-ASCII text in a locale that is not UTF-8: waits for a person"
        )
    parsed = parse(command)
    texts = [command]
    for simple in parsed.commands:
        texts += [simple.text, simple.canonical, " ".join(simple.words)]
    for index, pattern in enumerate(config.deny_commands):
        if any(_search(pattern, text) for text in texts):
            return Decision(
                f"deny_commands[{index}] {pattern!r}", None, "a deny pattern matches: not approved"
            )
    if not parsed.plain:
        return Decision(
            "allowlist", None, f"not a plain command ({parsed.problem}): waits for a person"
        )
    rules: list[str] = []
    for simple in parsed.commands:
        fired = next(
            (
                (index, pattern)
                for index, pattern in enumerate(config.allow_commands)
                if allows(pattern, simple.canonical)
            ),
            None,
        )
        if fired is None:
            return Decision(
                "allowlist",
                None,
                f"no allow pattern matches {simple.canonical!r}: waits for a person",
            )
        rule = f"allow_commands[{fired[0]}] {fired[1]!r}"
        if rule not in rules:
            rules.append(rule)
    return Decision(", ".join(rules), "yes", f"approved: {command}")


def on_prompt(task: Task, config: PolicyConfig, hooks: bool = False) -> Decision | None:
    """What the policies say about the prompt a ``waiting`` task shows; None: not their business.

    With ``hooks`` (the task's PermissionRequest hook runs) command approvals
    were decided there, on the complete command: the screen is never used.
    """
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
    if task.reason != "approval" or config.approve != "allowlist" or hooks:
        return None
    for index, pattern in enumerate(config.deny_commands):
        if _search(pattern, text):
            return Decision(
                f"deny_commands[{index}] {pattern!r}", None, "a deny pattern matches: not approved"
            )
    command = command_of(text)
    if command is None:
        return Decision(
            "allowlist",
            None,
            "the screen does not show the whole command, alone: waits for a person",
        )
    if not _SCREEN_SAFE.fullmatch(command):
        # Codex draws a command without its control characters (a CR, a tab, an
        # escape): what the screen shows may not be what bash gets. Only text
        # that holds nothing of the kind is read from the screen.
        return Decision(
            "allowlist",
            None,
            "the screen cannot prove every character of the command (quotes, backslashes, "
            "operators): waits for a person",
        )
    return on_command("Bash", command, config)


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
