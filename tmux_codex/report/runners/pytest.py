"""pytest: ``== 1 failed, 3 passed, 1 skipped in 0.12s ==`` (or ``no tests ran in …``).

xpassed counts as passed, xfailed as skipped; a collection error is an error.
A run that ran nothing is not ok (pytest exits 5).
"""

from __future__ import annotations

import re

from tmux_codex.report.testrun import NUM, Runner, Scan, TestRun, counts

_WORD = r"(?:failed|passed|skipped|deselected|xfailed|xpassed|errors?|warnings?|rerun)"
_SUMMARY = re.compile(
    rf"(?:^|[\s=])(?P<counts>(?:no tests ran|\d+ {_WORD})(?:, \d+ {_WORD})*)"
    rf" in {NUM}s\b"
)
_HINT = re.compile(rf"\b\d+ {_WORD}\b|no tests ran")


def read(scan: Scan, i: int) -> int | None:
    if not _HINT.search(scan.lines[i]):
        return None
    found = scan.joined(i, _SUMMARY)
    if not found:
        return None
    match, text, extra = found
    tally = counts(match["counts"], ",")
    passed = tally.get("passed", 0) + tally.get("xpassed", 0)
    skipped = tally.get("skipped", 0) + tally.get("xfailed", 0)
    failed = tally.get("failed", 0)
    errors = tally.get("error", 0) + tally.get("errors", 0)
    ok = not failed and not errors and passed + skipped > 0
    run = TestRun("pytest", passed, failed, skipped, errors, ok, text.strip())
    scan.add(run, i + extra)
    return i + extra


RUNNER = Runner("pytest", read, order=50)
