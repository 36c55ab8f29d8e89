"""Python's unittest: ``Ran 5 tests in 0.001s`` then ``OK`` or ``FAILED (failures=1, …)``.

Without the outcome line (the TUI cut the output short) there is no run.
Unexpected successes count as failed, expected failures as skipped.
"""

from __future__ import annotations

import re

from tmux_codex.report.testrun import NUM, Runner, Scan, TestRun

_RAN = re.compile(rf"\bRan (?P<n>\d+) tests? in {NUM}s\b")
_END = re.compile(r"^(?P<word>OK|FAILED|NO TESTS RAN)(?: \((?P<detail>[^)]*)\))?$")


def _pairs(detail: str) -> dict[str, int]:
    """``"failures=1, expected failures=2"`` → ``{"failures": 1, "expected failures": 2}``."""
    found: dict[str, int] = {}
    for part in detail.split(","):
        key, sep, value = part.partition("=")
        if sep and value.strip().isdigit():
            found[key.strip()] = int(value)
    return found


def read(scan: Scan, i: int) -> int | None:
    match = _RAN.search(scan.lines[i])
    if not match:
        return None
    j = i + 1
    while j < len(scan.lines) and j <= i + 3 and not scan.lines[j]:
        j += 1
    end = _END.match(scan.lines[j]) if j < len(scan.lines) else None
    if not end:
        return None  # the outcome is not shown (the TUI cut the output short)
    detail = _pairs(end["detail"] or "")
    ran = int(match["n"])
    failed = detail.get("failures", 0) + detail.get("unexpected successes", 0)
    errors = detail.get("errors", 0)
    skipped = detail.get("skipped", 0) + detail.get("expected failures", 0)
    passed = max(0, ran - failed - errors - skipped)
    ok = end["word"] == "OK"
    summary = f"{match.string[match.start() :].strip()}\n{end.string}"
    scan.add(TestRun("unittest", passed, failed, skipped, errors, ok, summary), j)
    return j


RUNNER = Runner("unittest", read, order=60)
