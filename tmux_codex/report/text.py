"""A task's report as plain text, for people (:func:`render_text`).

``report --json`` prints :meth:`~tmux_codex.report.summary.Report.to_dict`
instead: the text lists the first 40 files changed, the JSON every one.
"""

from __future__ import annotations

from tmux_codex.report.changes import FileChange
from tmux_codex.report.summary import Report
from tmux_codex.report.testrun import TestRun

__all__ = ["render_text"]


#: Files listed in the plain text report; the JSON lists every one.
_MAX_FILES_SHOWN = 40
_MARK = {"added": "A", "modified": "M", "deleted": "D", "renamed": "R", "untracked": "?"}


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 1:
        return "<1s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _lines(change: FileChange) -> str:
    if change.added is None or change.removed is None:
        return "binary"
    if change.status == "untracked":
        return f"+{change.added}"
    return f"+{change.added} -{change.removed}"


def _tally(run: TestRun) -> str:
    parts = []
    if run.passed is not None:
        parts.append(f"{run.passed} passed")
    parts.append(f"{run.failed} failed")
    if run.skipped:
        parts.append(f"{run.skipped} skipped")
    if run.errors:
        parts.append(f"{run.errors} error{'s' if run.errors != 1 else ''}")
    return ", ".join(parts)


def render_text(report: Report) -> str:
    """A short report for people: what happened, what changed, tests, tokens, last words."""
    r = report
    outcome = r.state if r.exit_code is None else f"{r.state}, exit {r.exit_code}"
    out = [f"task {r.task} ({r.name}): {outcome}; {r.mode} mode, attempt {r.attempt}"]
    out.append(f"  workdir  {r.workdir}")
    until = r.ended_at or "now"
    out.append(f"  time     {r.started_at} -> {until} ({_duration(r.duration_s)})")
    if r.session_id:
        out.append(f"  session  {r.session_id}")
    if r.error:
        out.append(f"  error    {r.error}")

    if r.files_error:
        out.append(f"files: unknown ({r.files_error})")
    elif not r.files:
        out.append("files: none changed")
    else:
        added = sum(f.added or 0 for f in r.files)
        removed = sum(f.removed or 0 for f in r.files)
        since = f" since {r.start_commit[:12]}" if r.start_commit else ""
        out.append(f"files: {len(r.files)} changed{since}, +{added} -{removed}")
        shown = r.files[:_MAX_FILES_SHOWN]
        width = min(60, max(len(_file_name(f)) for f in shown))
        for change in shown:
            out.append(f"  {_MARK[change.status]} {_file_name(change):<{width}}  {_lines(change)}")
        if len(r.files) > len(shown):
            out.append(f"  … and {len(r.files) - len(shown)} more (--json lists them all)")

    if not r.tests:
        out.append("tests: none found")
    else:
        runs = f"{len(r.tests)} run{'s' if len(r.tests) != 1 else ''}"
        out.append(f"tests: {runs} (from the {r.tests_source})")
        for run in r.tests:
            verdict = "ok" if run.ok else "FAILED"
            out.append(f"  {run.runner:<8} {verdict:<6}  {_tally(run)}")
            out.append(f"           {_summary_line(run)}")

    if r.tokens:
        t = r.tokens
        detail = []
        if t.input is not None:
            cached = f" ({t.cached_input:,} cached)" if t.cached_input else ""
            detail.append(f"input {t.input:,}{cached}")
        if t.output is not None:
            detail.append(f"output {t.output:,}")
        out.append(f"tokens: {t.total:,}" + (f" ({', '.join(detail)})" if detail else ""))
    else:
        out.append("tokens: unknown")

    if r.last_message:
        out.append("last message:")
        out.extend(f"  {line}".rstrip() for line in r.last_message.splitlines())
    else:
        out.append("last message: none")
    return "\n".join(out)


def _summary_line(run: TestRun) -> str:
    """The line of a run's summary that says the most: the first failing one, else the last."""
    lines = run.summary.splitlines() or [""]
    if not run.ok:
        for line in lines:
            if "fail" in line.lower():
                return line
    return lines[-1]


def _file_name(change: FileChange) -> str:
    if change.old_path:
        return f"{change.old_path} -> {change.path}"
    return change.path
