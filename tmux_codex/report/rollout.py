"""Codex's rollout file for a task's session (``$CODEX_HOME/sessions/…``).

:func:`find_rollout` finds it from the session id (the store's, or the one a
log shows: :func:`log_session_id`); :func:`read_rollout` reads what a report
takes from it in one pass: the token totals, the last agent message, the test
runs in the output of every command Codex ran (in full, even where the TUI
showed only its first lines) and the error the last turn ended with.
:func:`rollout_facts` gives the command outputs themselves.

Everything here reads; nothing changes the rollout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmux_codex.codex.tokens import Tokens, usage
from tmux_codex.report.failure import error_message
from tmux_codex.report.runners import parse_tests
from tmux_codex.report.testrun import TestRun

__all__ = [
    "RolloutSummary",
    "log_session_id",
    "read_rollout",
    "rollout_facts",
]

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_LOG_SESSION = re.compile(rf"(?:session id:\s*|codex (?:exec )?resume\s+)(?P<id>{_UUID})")


def log_session_id(text: str) -> str | None:
    """The Codex session id a log shows (exec's header, the TUI's ``codex resume ID``)."""
    found = _LOG_SESSION.findall(text)
    return str(found[-1]).lower() if found else None


#: Function calls whose output is a shell command's output.
_COMMAND_TOOLS = frozenset(
    {"exec_command", "write_stdin", "shell", "shell_command", "local_shell", "container.exec"}
)
#: The header unified exec puts before a command's output in ``function_call_output``.
_OUTPUT_HEADER = re.compile(r"\A(?:[A-Z][\w ]*:[^\n]*\n|Process exited[^\n]*\n)*Output:\n")


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [p.get("text") for p in content if isinstance(p, dict)]
    return "".join(p for p in parts if isinstance(p, str))


class _Rollout:
    """What :func:`rollout_facts` collects while it reads a rollout, entry by entry.

    With ``keep_outputs`` off, each command's output is parsed for test
    summaries at once and only the runs found are kept.
    """

    def __init__(self, keep_outputs: bool = True) -> None:
        self.keep_outputs = keep_outputs
        self.tokens: Tokens | None = None
        self.completed: str | None = None  # task_complete's last_agent_message
        self.assistant: str | None = None  # the last assistant message recorded
        self.outputs: dict[str, str] = {}  # command id → its whole output
        self.runs: dict[str, list[TestRun]] = {}  # command id → the test runs it shows
        self.chunks: list[str] = []  # function_call_output of shell tools
        self.chunk_runs: list[TestRun] = []
        self.chunk_count = 0
        self.shell_calls: set[str] = set()
        self.turns = 0  # turns that ended (task_complete)
        self.error: str | None = None  # the error the last turn ended with

    def output(self, key: str, text: str) -> None:
        if self.keep_outputs:
            self.outputs[key] = text
        else:
            self.runs[key] = parse_tests(text)

    def event(self, kind: object, payload: dict[str, Any], number: int) -> None:
        if kind == "token_count":
            info = payload.get("info")
            used = usage(info.get("total_token_usage")) if isinstance(info, dict) else None
            self.tokens = used or self.tokens
        elif kind == "task_complete":
            message = payload.get("last_agent_message")
            if isinstance(message, str) and message.strip():
                self.completed = message
            self.turns += 1
            self.error = _rollout_error(payload.get("error"))
        elif kind in ("task_started", "turn_aborted"):
            self.error = None
        elif kind == "error":
            self.error = _rollout_error(payload) or self.error
        elif kind == "item_completed":
            item = payload.get("item")
            if isinstance(item, dict) and item.get("type") == "CommandExecution":
                output = item.get("aggregated_output")
                if isinstance(output, str):
                    self.output(str(item.get("id", number)), output)
        elif kind == "exec_command_end":
            output = payload.get("aggregated_output")
            if not isinstance(output, str):
                parts = (payload.get("stdout"), payload.get("stderr"))
                output = "\n".join(p for p in parts if isinstance(p, str))
            self.output(str(payload.get("call_id", number)), output)

    def item(self, kind: object, payload: dict[str, Any]) -> None:
        if kind == "message" and payload.get("role") == "assistant":
            text = _text_of(payload.get("content"))
            if text.strip():
                self.assistant = text
        elif kind in ("function_call", "custom_tool_call", "local_shell_call"):
            if kind == "local_shell_call" or payload.get("name") in _COMMAND_TOOLS:
                self.shell_calls.add(str(payload.get("call_id")))
        elif kind in ("function_call_output", "custom_tool_call_output") and (
            str(payload.get("call_id")) in self.shell_calls
        ):
            chunk = _call_output(payload.get("output"))
            self.chunk_count += 1
            if self.keep_outputs:
                self.chunks.append(chunk)
            else:  # counted only if no command's output is recorded
                self.chunk_runs.extend(parse_tests(chunk))

    def read(self, path: Path) -> bool:
        """Read the rollout at ``path`` line by line; False when it cannot be read."""
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for number, line in enumerate(fh):
                    if _SKIPPED_ENTRY.search(line, 0, 200):
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    payload = entry.get("payload") if isinstance(entry, dict) else None
                    if not isinstance(payload, dict):
                        continue
                    if entry.get("type") == "event_msg":
                        self.event(payload.get("type"), payload, number)
                    elif entry.get("type") == "response_item":
                        self.item(payload.get("type"), payload)
        except OSError:
            return False
        return True


#: Rollout entries that hold nothing a report needs (the first one holds Codex's
#: whole instructions): known by the start of their line and skipped unparsed.
_SKIPPED_ENTRY = re.compile(
    r'"type":"(?:session_meta|turn_context|world_state|thread_settings_applied)"'
)


@dataclass(frozen=True)
class RolloutSummary:
    """What a report takes from a rollout file (see :func:`read_rollout`)."""

    tokens: Tokens | None
    last_message: str | None
    tests: list[TestRun]
    outputs: int  # command outputs read (the tests come from the rollout when any)
    turns: int  # turns that ended
    error: str | None  # the error the last turn ended with (None: it did not fail)


def read_rollout(path: Path) -> RolloutSummary | None:
    """Token totals, last message, test runs and the last turn's error, in one pass.

    What :func:`rollout_facts` reads, but each command's output is parsed for
    test summaries as it is read and then dropped: memory does not grow with
    the outputs. The error is that of the last turn that ended
    (``task_complete``'s ``error``, or an ``error`` event during it), unwrapped
    by :func:`error_message`; None after a turn that ended well, or while one
    runs. None when the file cannot be read.
    """
    facts = _Rollout(keep_outputs=False)
    if not facts.read(path):
        return None
    if facts.runs:
        tests = [run for runs in facts.runs.values() for run in runs]
    else:
        tests = facts.chunk_runs
    return RolloutSummary(
        tokens=facts.tokens,
        last_message=facts.completed or facts.assistant,
        tests=tests,
        outputs=len(facts.runs) or facts.chunk_count,
        turns=facts.turns,
        error=facts.error,
    )


def rollout_facts(path: Path) -> tuple[Tokens | None, str | None, list[str]]:
    """What a rollout file says: token totals, the last agent message, command outputs.

    - tokens: ``info.total_token_usage`` of the last ``token_count`` event;
    - the last agent message: ``last_agent_message`` of the last
      ``task_complete`` event, else the last assistant message recorded;
    - the full output of each command Codex ran, in order: the
      ``CommandExecution`` items (``aggregated_output``) of 0.169, or the
      ``exec_command_end`` events of older versions; from the
      ``function_call_output`` of shell tools only when the file has neither
      (those may be partial chunks of one command).

    Unreadable lines are skipped; an unreadable file gives nothing.
    """
    facts = _Rollout()
    if not facts.read(path):
        return None, None, []
    outputs = list(facts.outputs.values()) if facts.outputs else facts.chunks
    return facts.tokens, facts.completed or facts.assistant, outputs


def _rollout_error(value: object) -> str | None:
    """The message of a rollout's error object (``{"message": …}``), unwrapped."""
    if isinstance(value, dict):
        value = value.get("message")
    return error_message(value) if isinstance(value, str) else None


def _call_output(output: object) -> str:
    if isinstance(output, dict):
        output = output.get("content", output.get("output", ""))
    if not isinstance(output, str):
        return _text_of(output)
    if output.startswith("{"):
        try:
            decoded = json.loads(output)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("output"), str):
            return str(decoded["output"])
    return _OUTPUT_HEADER.sub("", output, count=1)
