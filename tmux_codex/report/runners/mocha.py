"""mocha: ``3 passing (12ms)``, then maybe ``1 pending`` and ``1 failing``."""

from __future__ import annotations

import re

from tmux_codex.report.testrun import NUM, Runner, Scan, TestRun

_PASSING = re.compile(rf"^(?P<n>\d+) passing \({NUM}(?:ms|s|m)\)")
_MORE = re.compile(r"^(?P<n>\d+) (?P<word>pending|failing)$")


def read(scan: Scan, i: int) -> int | None:
    match = _PASSING.match(scan.lines[i])
    if not match:
        return None
    tally = {"passing": int(match["n"])}
    summary = [scan.lines[i]]
    j = i
    while j + 1 < len(scan.lines) and (more := _MORE.match(scan.lines[j + 1])):
        tally[more["word"]] = int(more["n"])
        summary.append(scan.lines[j + 1])
        j += 1
    failed = tally.get("failing", 0)
    pending = tally.get("pending", 0)
    summary_text = "\n".join(summary)
    run = TestRun("mocha", tally["passing"], failed, pending, 0, not failed, summary_text)
    scan.add(run, j)
    return j


RUNNER = Runner("mocha", read, order=70)
