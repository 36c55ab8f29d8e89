"""cargo test: one ``test result: ok. 5 passed; 0 failed; 1 ignored; …`` per test binary.

The lines of one ``cargo test`` make one run (unit tests, integration tests
and doc-tests alike). A new invocation starts with cargo's ``Finished …
target(s) in``; ``error: test failed`` ends one.
"""

from __future__ import annotations

import re

from tmux_codex.report.testrun import Runner, Scan, TestRun

_RESULT = re.compile(
    r"\btest result: (?P<word>ok|FAILED)\. (?P<passed>\d+) passed; (?P<failed>\d+) failed;"
    r" (?P<ignored>\d+) ignored\b"
)
#: A new cargo invocation (or the end of one): what was counted so far is one run.
_START = re.compile(r"^Finished\b.*\btarget\(s\) in\b")
_END = re.compile(r"^error: (?:test failed|\d+ targets? failed)\b")


class _Tally:
    """The test binaries of one invocation counted so far."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.passed = self.failed = self.ignored = 0
        self.ok = True

    def add(self, match: re.Match[str], line: str) -> None:
        self.lines.append(line)
        self.passed += int(match["passed"])
        self.failed += int(match["failed"])
        self.ignored += int(match["ignored"])
        self.ok = self.ok and match["word"] == "ok"

    def run(self) -> TestRun:
        return TestRun(
            "cargo", self.passed, self.failed, self.ignored, 0, self.ok, "\n".join(self.lines)
        )


def read(scan: Scan, i: int) -> int | None:
    line = scan.lines[i]
    if _START.match(line):
        if isinstance(scan.current, _Tally):
            scan.close()
        return i
    if _END.match(line):
        scan.close()
        scan.region = i + 1
        return i
    if "test result:" not in line:
        return None
    found = scan.joined(i, _RESULT)
    if not found:
        return None
    match, text, extra = found
    tally = scan.current if isinstance(scan.current, _Tally) else scan.start(_Tally())
    tally.add(match, text[match.start() :].strip())
    scan.region = i + extra + 1
    return i + extra


RUNNER = Runner("cargo", read, order=10)
