"""Test runs, and the one pass over a text that finds them.

:class:`TestRun` is one run of a test runner, as its summary said.
:class:`Scan` walks the lines of a text once and asks each known
:class:`Runner` in turn whether the line is its summary; the runners
themselves, one module each, live in :mod:`tmux_codex.report.runners`, which
also says how to add one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tmux_codex.codex.logtext import strip_escapes

__all__ = ["NUM", "Pending", "Runner", "Scan", "TestRun", "counts"]


@dataclass(frozen=True)
class TestRun:
    """One run of a test runner, as its summary said.

    ``skipped`` includes what the runner calls todo, pending, ignored,
    xfailed or an expected failure; ``errors`` counts what failed outside a
    test (a collection error, a suite that could not load, a package that did
    not build, an unhandled error, a cancelled test). ``passed`` and
    ``skipped`` are ``None`` where the output does not say: ``go test``
    without ``-v`` lists only the failing tests. ``summary`` is the summary as
    printed (several lines for runners that print several: cargo's one per
    test binary, go's one per package).
    """

    __test__ = False  # not a pytest test class

    runner: str
    passed: int | None
    failed: int
    skipped: int | None
    errors: int
    ok: bool
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "runner": self.runner,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "errors": self.errors,
            "ok": self.ok,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class Runner:
    """A test runner a :class:`Scan` knows.

    ``read(scan, i)`` looks at line ``i`` of ``scan.lines`` (never blank, never
    the start of another command's output). When the line is not this runner's
    it returns ``None`` and touches nothing. Otherwise it returns the last line
    it used (``i``, or a later one when the summary goes on), after one of:

    - :meth:`Scan.add` with the :class:`TestRun` whose summary ended there;
    - counting into a :class:`Pending` run (:meth:`Scan.start`) when the
      summary is spread over lines that end no run by themselves;
    - nothing, for a line that only marks where a run starts or ends.

    Runners are asked in ``order`` (then by ``name``); the first that takes a
    line has it. ``name`` is the :attr:`TestRun.runner` of its runs.
    """

    name: str
    read: Callable[[Scan, int], int | None]
    order: int = 100


class Pending(Protocol):
    """A run still being counted: its :meth:`run` is called when the run ends."""

    def run(self) -> TestRun | None:
        """The run counted so far (``None``: nothing worth a run)."""
        ...


_P = TypeVar("_P", bound=Pending)

#: A number as runners print durations: ``12`` or ``0.35``.
NUM = r"\d+(?:\.\d+)?"
#: What the Codex TUI puts before a command's output lines: ``  └ `` or indentation.
_GUTTER = re.compile(r"^[ \t]*(?:[└│][ \t]?)?[ \t]*")
#: Lines that start the output of another command in a Codex transcript: exec's
#: ``exec`` heading and ``succeeded in 12ms:``/``exited 1 in 12ms:`` line, the
#: TUI's ``• Ran CMD``.
_BOUNDARY = re.compile(
    r"^(?:exec|codex|user|thinking|• (?:Ran|Running)\b.*"
    r"|(?:succeeded|exited -?\d+|failed)\b.* in \d+(?:\.\d+)?m?s:)$"
)


def counts(text: str, separator: str) -> dict[str, int]:
    """``"1 failed, 3 passed"`` → ``{"failed": 1, "passed": 3}``."""
    found: dict[str, int] = {}
    for part in text.split(separator):
        number, _, word = part.strip().partition(" ")
        if number.isdigit():
            found[word] = found.get(word, 0) + int(number)
    return found


class Scan:
    """One pass over the lines of a text, collecting runs in the order they ended.

    ``lines`` are the text's lines without escape sequences, the TUI's gutter
    or trailing blanks; ``runs`` the runs found so far; ``region`` the first
    line of the output the current run was printed in (where a runner may
    look back for lines that belong to its summary: :meth:`in_region`).
    At most one run is :class:`Pending` at a time (``current``).
    """

    def __init__(self, text: str) -> None:
        plain = strip_escapes(text.encode("utf-8", "replace"))
        self.lines = [_GUTTER.sub("", line).rstrip() for line in plain.split("\n")]
        self.runs: list[TestRun] = []
        self.current: Pending | None = None
        self.region = 0  # where the output of the run being read began

    # -- for runners -------------------------------------------------------------

    def joined(self, i: int, pattern: re.Pattern[str]) -> tuple[re.Match[str], str, int] | None:
        """``pattern`` in line ``i``, or in it joined with the next (a wrapped line)."""
        line = self.lines[i]
        match = pattern.search(line)
        if match:
            return match, line, 0
        if i + 1 < len(self.lines):
            after = self.lines[i + 1]
            for both in (line + after, line + " " + after):  # hard wrap, word wrap
                match = pattern.search(both)
                if match:
                    return match, both, 1
        return None

    def near(self, i: int, pattern: re.Pattern[str], step: int, reach: int) -> re.Match[str] | None:
        """``pattern`` in one of the ``reach`` non-blank lines before/after line ``i``."""
        j = i + step
        seen = 0
        while 0 <= j < len(self.lines) and seen < reach:
            if self.lines[j]:
                match = pattern.search(self.lines[j])
                if match:
                    return match
                seen += 1
            j += step
        return None

    def in_region(self, i: int, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        """``pattern`` in every line of the current output up to line ``i``."""
        found = (pattern.search(line) for line in self.lines[self.region : i])
        return [m for m in found if m]

    def close(self) -> None:
        """End the pending run, if any (a run whose summary spans lines: cargo, go)."""
        if self.current is not None:
            run = self.current.run()
            if run:
                self.runs.append(run)
            self.current = None

    def start(self, pending: _P) -> _P:
        """End the pending run and count into ``pending`` from now on."""
        self.close()
        self.current = pending
        return pending

    def add(self, run: TestRun, end: int) -> None:
        """A run whose summary ends at line ``end`` (the pending one ends first)."""
        self.close()
        self.runs.append(run)
        self.region = end + 1

    # -- the scan ----------------------------------------------------------------

    def scan(self, runners: Sequence[Runner]) -> list[TestRun]:
        """Every run the lines show, asking ``runners`` in the order given."""
        i = 0
        while i < len(self.lines):
            i = self.step(i, runners) + 1
        self.close()
        return self.runs

    def step(self, i: int, runners: Sequence[Runner]) -> int:
        """Read line ``i``; returns the last line it used."""
        line = self.lines[i]
        if not line:
            return i
        if _BOUNDARY.match(line):
            self.close()
            self.region = i + 1
            return i
        for runner in runners:
            end = runner.read(self, i)
            if end is not None:
                return end
        return i
