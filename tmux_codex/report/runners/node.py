"""node's own test runner (``node --test``): ``# tests 4``, ``# pass 2``, ``# fail 1``, ….

The TAP reporter starts its lines with ``#``, the spec reporter with ``ℹ``.
Todo counts as skipped, a cancelled test as an error.
"""

from __future__ import annotations

import re

from tmux_codex.report.testrun import NUM, Runner, Scan, TestRun

_START = re.compile(r"^[#ℹ] tests (?P<n>\d+)$")
_LINE = re.compile(rf"^[#ℹ] (?P<word>suites|pass|fail|cancelled|skipped|todo|duration_ms) {NUM}$")


def read(scan: Scan, i: int) -> int | None:
    match = _START.match(scan.lines[i])
    if not match:
        return None
    tally: dict[str, float] = {}
    summary = [scan.lines[i]]
    j = i
    while j + 1 < len(scan.lines) and (more := _LINE.match(scan.lines[j + 1])):
        tally[more["word"]] = float(scan.lines[j + 1].rsplit(" ", 1)[1])
        summary.append(scan.lines[j + 1])
        j += 1
    if "pass" not in tally or "fail" not in tally:
        return None
    failed, cancelled = int(tally["fail"]), int(tally.get("cancelled", 0))
    run = TestRun(
        "node",
        int(tally["pass"]),
        failed,
        int(tally.get("skipped", 0) + tally.get("todo", 0)),
        cancelled,
        not failed and not cancelled,
        "\n".join(summary),
    )
    scan.add(run, j)
    return j


RUNNER = Runner("node", read, order=80)
