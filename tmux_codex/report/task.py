"""A task's report, built from its log and its workdir."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tmux_codex.core.models import Task
from tmux_codex.report.diff import Diff, changes

if TYPE_CHECKING:
    from tmux_codex.report.summary import Report

from tmux_codex.tasks.context import Context, resolve
from tmux_codex.tasks.queries import read_log
from tmux_codex.tasks.refresh import refresh

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
    from tmux_codex.codex.logtext import strip_escapes
    from tmux_codex.report.summary import build
    from tmux_codex.tasks.logfile import raw_head

    head = "" if task.codex_session_id else strip_escapes(raw_head(task.log_path, REPORT_HEAD))
    return build(task, report_text(task), log_head=head)


def task_diff(ctx: Context, ref: str | None) -> Diff:
    """What a task changed since it began (its worktree's base, or its start commit)."""
    task = resolve(ctx, ref)
    if task.worktree:
        since = task.worktree.get("base_commit") or task.start_commit
        return changes(task.workdir, since, task.worktree.get("branch"))
    return changes(task.workdir, task.start_commit)
