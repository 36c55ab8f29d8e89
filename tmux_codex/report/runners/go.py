"""go test: one ``ok``/``FAIL``/``?`` line per package, ``--- FAIL: Name`` per failing test.

The lines of one ``go test ./...`` make one run. Without ``-v`` go lists only
the failing tests, so the passed and skipped are unknown (``None``); a
package that did not build, or failed outside any test, is an error.
"""

from __future__ import annotations

import re

from tmux_codex.report.testrun import NUM, Runner, Scan, TestRun

_PACKAGE = re.compile(
    rf"^(?:ok\s+(?P<ok>\S+)\s+(?:{NUM}s|\(cached\))"
    rf"|FAIL\s+(?P<fail>\S+)\s+(?:{NUM}s|(?P<broken>\[(?:build|setup) failed\]))"
    r"|\?\s+(?P<none>\S+)\s+\[no test files\])"
)
_RUN = re.compile(r"^=== RUN\s+\S")
_TEST = re.compile(rf"^--- (?P<word>PASS|FAIL|SKIP): (?P<name>\S+) \({NUM}s\)")


class _Tally:
    """The packages and tests of one invocation counted so far."""

    def __init__(self) -> None:
        self.packages: list[str] = []
        self.tested = 0  # packages with tests (ok or FAIL)
        self.verbose = False
        self.passed = self.failed = self.skipped = self.errors = 0
        self.failed_here = 0  # failing tests since the last package line
        self.ok = True

    def test(self, match: re.Match[str]) -> None:
        self.verbose = self.verbose or match["word"] == "PASS"
        if "/" in match["name"]:
            return  # a subtest: its parent counts
        if match["word"] == "PASS":
            self.passed += 1
        elif match["word"] == "SKIP":
            self.skipped += 1
        else:
            self.failed += 1
            self.failed_here += 1

    def package(self, match: re.Match[str], line: str) -> None:
        self.packages.append(line)
        if match["ok"]:
            self.tested += 1
        elif match["fail"]:
            self.tested += 1
            self.ok = False
            if match["broken"] or not self.failed_here:
                self.errors += 1  # did not build, or failed outside any test
        self.failed_here = 0

    def run(self) -> TestRun | None:
        if not self.tested:
            return None
        return TestRun(
            "go",
            self.passed if self.verbose else None,
            self.failed,
            self.skipped if self.verbose else None,
            self.errors,
            self.ok,
            "\n".join(self.packages),
        )


def read(scan: Scan, i: int) -> int | None:
    line = scan.lines[i]
    test = _TEST.match(line)
    package = None if test else _PACKAGE.match(line)
    started = not test and not package and _RUN.match(line)
    if not test and not package and not started:
        return None
    tally = scan.current if isinstance(scan.current, _Tally) else scan.start(_Tally())
    if started:
        tally.verbose = True
    elif test:
        tally.test(test)
    elif package:
        tally.package(package, line)
        scan.region = i + 1
    return i


RUNNER = Runner("go", read, order=20)
