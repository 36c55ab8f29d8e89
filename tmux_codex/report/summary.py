"""What a task did: state and duration, files changed, tests run, tokens, last message.

:func:`build` gathers a :class:`Report` for a task from three places:

- git, in the task's workdir: every file that differs from the commit that was
  HEAD when the task started, and every untracked file
  (:func:`~tmux_codex.report.changes.changed_files`);
- Codex's rollout file for the task's session (``$CODEX_HOME/sessions/…``):
  the token totals, the last agent message, the test runs in the output of
  every command Codex ran and the error the last turn ended with
  (:mod:`tmux_codex.report.rollout`);
- the task's log, as readable text: test summaries when there is no rollout
  to read them from (:mod:`tmux_codex.report.runners`), the token line Codex
  prints on exit (:mod:`tmux_codex.codex.tokens`) and its last error
  (:mod:`tmux_codex.report.failure`).

:mod:`tmux_codex.report.text` renders a report for people; :meth:`Report.to_dict`
is its JSON. Everything here reads; nothing changes the repository, the
rollout or the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tmux_codex.codex.logtext import strip_escapes
from tmux_codex.codex.sessions import find_rollout
from tmux_codex.codex.tokens import Tokens, parse_tokens
from tmux_codex.core.models import FINAL_STATES, Task
from tmux_codex.report.changes import FileChange, changed_files
from tmux_codex.report.failure import error_message, log_error
from tmux_codex.report.rollout import log_session_id, read_rollout
from tmux_codex.report.runners import parse_tests
from tmux_codex.report.testrun import TestRun

__all__ = ["Report", "build"]


@dataclass(frozen=True)
class Report:
    """What a task did; :meth:`to_dict` is the JSON ``report --json`` prints."""

    task: int
    name: str
    state: str
    mode: str
    workdir: str
    started_at: str
    ended_at: str | None
    duration_s: float
    exit_code: int | None
    session_id: str | None
    attempt: int
    start_commit: str | None
    files: list[FileChange]
    files_error: str | None
    tests: list[TestRun]
    tests_source: str | None  # "rollout" | "log" | None (no test summary found)
    tokens: Tokens | None
    last_message: str | None
    rollout_path: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "name": self.name,
            "state": self.state,
            "mode": self.mode,
            "workdir": self.workdir,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "exit_code": self.exit_code,
            "session_id": self.session_id,
            "attempt": self.attempt,
            "start_commit": self.start_commit,
            "files": [f.to_dict() for f in self.files],
            "files_error": self.files_error,
            "tests": [t.to_dict() for t in self.tests],
            "tests_source": self.tests_source,
            "tokens": self.tokens.to_dict() if self.tokens else None,
            "last_message": self.last_message,
            "rollout_path": self.rollout_path,
            "error": self.error,
        }


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = strip_escapes(text.encode("utf-8", "replace")).strip()
    return cleaned or None


def build(
    task: Task,
    log_text: str,
    codex_home: Path | None = None,
    now: datetime | None = None,
    log_head: str = "",
) -> Report:
    """The report of ``task``; ``log_text`` is the end of its log as readable text.

    ``codex_home`` is where Codex keeps its sessions (default: the task's
    recorded ``codex_home``); without one, or without a session id, the
    rollout is not read and tests and tokens come from the log. Tests come
    from one source, never both: the rollout's command outputs when it has
    any, else the log. The error is the one the rollout says the last turn
    ended with; without a rollout (or for a failed task whose rollout says
    none) the last error in the log, else the one last seen on screen.
    ``log_head`` (the start of the log, as text) is where ``codex exec``
    prints its session id. A task that has not ended is measured up to ``now``.
    """
    session_id = task.codex_session_id or log_session_id(log_text) or log_session_id(log_head)
    home = codex_home or (Path(task.codex_home) if task.codex_home else None)
    rollout = find_rollout(home, session_id) if home and session_id else None
    summary = read_rollout(rollout) if rollout else None

    tests: list[TestRun] = []
    source: str | None = None
    if summary is not None and summary.outputs:
        tests, source = summary.tests, "rollout"
    else:
        tests, source = parse_tests(log_text), "log"
    if not tests:
        source = None

    error = summary.error if summary is not None else None
    if error is None and (summary is None or task.state == "failed"):
        error = log_error(log_text) or (error_message(task.error) if task.error else None)

    started = _stamp(task.created_at)
    ended_at = task.updated_at if task.state in FINAL_STATES else None
    end = _stamp(ended_at) if ended_at else (now or datetime.now(timezone.utc))
    duration = max(0.0, (end - started).total_seconds()) if started and end else 0.0

    files, files_error = changed_files(task.workdir, task.start_commit)
    return Report(
        task=task.id,
        name=task.name,
        state=task.state,
        mode=task.mode,
        workdir=task.workdir,
        started_at=task.created_at,
        ended_at=ended_at,
        duration_s=round(duration, 3),
        exit_code=task.exit_code,
        session_id=session_id,
        attempt=task.attempt,
        start_commit=task.start_commit,
        files=files,
        files_error=files_error,
        tests=tests,
        tests_source=source,
        tokens=(summary.tokens if summary else None) or parse_tokens(log_text),
        last_message=_clean((summary.last_message if summary else None) or task.last_message),
        rollout_path=str(rollout) if rollout else None,
        error=_clean(error),
    )
