"""vitest: ``Test Files  1 failed | 1 passed (2)`` then ``Tests  … (7)``, maybe ``Errors``.

An unhandled error (``Errors  1 error``) and a test file that did not load
(``Failed Suites 1``) are errors.
"""

from __future__ import annotations

import re

from tmux_codex.report.testrun import Runner, Scan, TestRun, counts

_COUNTS = r"(?P<counts>\d+ \w+(?: \| \d+ \w+)*)\s+\((?P<total>\d+)\)"
_TESTS = re.compile(rf"^Tests\s+{_COUNTS}")
_FILES = re.compile(rf"^Test Files\s+{_COUNTS}")
_ERRORS = re.compile(r"^Errors\s+(?P<n>\d+) errors?\b")
_BROKEN = re.compile(r"\bFailed Suites (?P<n>\d+)\b")


def read(scan: Scan, i: int) -> int | None:
    match = _TESTS.match(scan.lines[i])
    if not match:
        return None
    tests = counts(match["counts"], "|")
    files_match = scan.near(i, _FILES, -1, 2)
    files = counts(files_match["counts"], "|") if files_match else {}
    errors_match = scan.near(i, _ERRORS, 1, 1)
    errors = int(errors_match["n"]) if errors_match else 0
    errors += sum(int(m["n"]) for m in scan.in_region(i, _BROKEN))
    summary = [m.string for m in (files_match, match, errors_match) if m]
    failed = tests.get("failed", 0)
    run = TestRun(
        "vitest",
        tests.get("passed", 0),
        failed,
        tests.get("skipped", 0) + tests.get("todo", 0),
        errors,
        not failed and not errors and not files.get("failed", 0),
        "\n".join(summary),
    )
    scan.add(run, i + (1 if errors_match else 0))
    return i + (1 if errors_match else 0)


RUNNER = Runner("vitest", read, order=40)
