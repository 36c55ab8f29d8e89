"""jest: ``Test Suites: 1 failed, 1 passed, 2 total`` then ``Tests: … total``.

A test file that did not load (``● Test suite failed to run``) is an error.
"""

from __future__ import annotations

import re

from tmux_codex.report.testrun import Runner, Scan, TestRun, counts

_COUNTS = r"(?P<counts>(?:\d+ \w+, )*(?:\d+ of )?\d+ total)"
_TESTS = re.compile(rf"^Tests:\s+{_COUNTS}")
_SUITES = re.compile(rf"^Test Suites:\s+{_COUNTS}")
_BROKEN = re.compile(r"^● Test suite failed to run\b")


def read(scan: Scan, i: int) -> int | None:
    match = _TESTS.match(scan.lines[i])
    if not match:
        return None
    tests = counts(match["counts"], ",")
    suites_match = scan.near(i, _SUITES, -1, 2)
    suites = counts(suites_match["counts"], ",") if suites_match else {}
    summary = [suites_match.string] if suites_match else []
    failed = tests.get("failed", 0)
    broken = len(scan.in_region(i, _BROKEN))
    run = TestRun(
        "jest",
        tests.get("passed", 0),
        failed,
        tests.get("skipped", 0) + tests.get("todo", 0) + tests.get("pending", 0),
        broken,
        not failed and not broken and not suites.get("failed", 0),
        "\n".join([*summary, match.string]),
    )
    scan.add(run, i)
    return i


RUNNER = Runner("jest", read, order=30)
