"""What a task did: state and duration, files changed, tests run, tokens, last message.

:func:`build` gathers a :class:`Report` for a task from three places:

- git, in the task's workdir: every file that differs from the commit that was
  HEAD when the task started (committed since, staged, unstaged) and every
  untracked file, with added/removed line counts (:func:`changed_files`);
- Codex's rollout file for the task's session (``$CODEX_HOME/sessions/…``):
  the token totals, the last agent message and the output of every command
  Codex ran (:func:`rollout_facts`), in full even where the TUI showed only the
  first lines of it;
- the task's log, as readable text: test summaries when there is no rollout
  to read them from, and the token line Codex prints on exit.

Test results come from the summary lines the runners print
(:func:`parse_tests`): pytest, unittest, cargo test, go test, jest, vitest,
mocha and node's own test runner; ``npm test`` prints the summary of the runner
it starts, which counts once.

Everything here reads; nothing changes the repository, the rollout or the log.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tmux_codex.codex.logtext import strip_escapes
from tmux_codex.core.models import FINAL_STATES, Task

__all__ = [
    "FileChange",
    "Report",
    "RolloutSummary",
    "TestRun",
    "Tokens",
    "build",
    "changed_files",
    "error_message",
    "find_rollout",
    "log_error",
    "log_session_id",
    "parse_tests",
    "parse_tokens",
    "read_rollout",
    "render_text",
    "rollout_facts",
]


# -- results --------------------------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    """One file that differs from the task's start commit.

    ``status`` is ``added``, ``modified``, ``deleted``, ``renamed`` (then
    ``old_path`` is where it came from) or ``untracked``. ``added`` and
    ``removed`` count lines; both are ``None`` for a binary file.
    """

    path: str
    status: str
    added: int | None
    removed: int | None
    old_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "added": self.added,
            "removed": self.removed,
            "old_path": self.old_path,
        }


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
class Tokens:
    """Tokens a session used, as Codex counts them.

    ``input`` includes ``cached_input``; ``total`` is ``input + output``;
    ``reasoning_output`` is part of ``output``. From the rollout every field
    is known; from the line ``codex exec`` prints on exit only ``total``.
    """

    input: int | None
    output: int | None
    total: int
    cached_input: int | None = None
    reasoning_output: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "total": self.total,
            "cached_input": self.cached_input,
            "reasoning_output": self.reasoning_output,
        }


@dataclass(frozen=True)
class Report:
    """What a task did; :meth:`to_dict` is the JSON ``report --json`` prints."""

    task: int
    name: str
    state: str
    mode: str
    workdir: str
    started_at: str
    ended_at: str | None
    duration_s: float
    exit_code: int | None
    session_id: str | None
    attempt: int
    start_commit: str | None
    files: list[FileChange]
    files_error: str | None
    tests: list[TestRun]
    tests_source: str | None  # "rollout" | "log" | None (no test summary found)
    tokens: Tokens | None
    last_message: str | None
    rollout_path: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "name": self.name,
            "state": self.state,
            "mode": self.mode,
            "workdir": self.workdir,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "exit_code": self.exit_code,
            "session_id": self.session_id,
            "attempt": self.attempt,
            "start_commit": self.start_commit,
            "files": [f.to_dict() for f in self.files],
            "files_error": self.files_error,
            "tests": [t.to_dict() for t in self.tests],
            "tests_source": self.tests_source,
            "tokens": self.tokens.to_dict() if self.tokens else None,
            "last_message": self.last_message,
            "rollout_path": self.rollout_path,
            "error": self.error,
        }


# -- files changed (git) ----------------------------------------------------------

_GIT_TIMEOUT = 60.0
#: Bytes of a file looked at to tell binary from text (git looks at 8000).
_BINARY_SNIFF = 8000
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "added"}


class _GitError(Exception):
    pass


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    # Reading must not take index.lock from under Codex's own git commands.
    env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C", LANGUAGE="C")
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env=env,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise _GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise _GitError(f"git {args[0]} took longer than {_GIT_TIMEOUT:.0f}s") from None
    except OSError as exc:
        raise _GitError(f"cannot run git: {exc}") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _GitError(message[0] if message else f"git {args[0]} exited {proc.returncode}")
    return proc.stdout


def _decode(path: bytes) -> str:
    return path.decode("utf-8", "replace")


def _count(value: bytes) -> int | None:
    return None if value == b"-" else int(value)


def changed_files(
    workdir: str | Path, start_commit: str | None
) -> tuple[list[FileChange], str | None]:
    """Files that differ from ``start_commit`` in the workdir's repository, and an error.

    Compares the start commit with the working tree, so changes committed
    since, staged and unstaged all count, once per file; untracked files that
    are not ignored are listed too, all their lines counted as added. With
    ``start_commit`` ``None`` (the repository had no commit when the task
    started) everything is compared with the empty tree. Paths are relative to
    the top of the repository, sorted.

    Never raises for git's sake: when the changes cannot be known the list is
    empty and the error says why (``"not a git repository"``, a start commit
    that is gone, git missing, …).
    """
    folder = Path(workdir)
    if not folder.is_dir():
        return [], f"workdir {folder} does not exist"
    try:
        try:
            top = _git(folder, "rev-parse", "--show-toplevel").decode("utf-8", "surrogateescape")
        except _GitError as exc:
            if "not a git repository" in str(exc):
                return [], "not a git repository"
            raise
        root = Path(top.strip())
        if start_commit:
            try:
                _git(root, "rev-parse", "--verify", "--quiet", f"{start_commit}^{{commit}}")
            except _GitError:
                return [], f"start commit {start_commit} is not in the repository"
            base = start_commit
        else:
            base = _git(root, "hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()
        diff = ("diff", "--no-ext-diff", "--no-textconv", "-M", "-z")
        numstat = _git(root, *diff, "--numstat", base, "--")
        name_status = _git(root, *diff, "--name-status", base, "--")
        untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    except _GitError as exc:
        return [], str(exc)

    counts = _parse_numstat(numstat)
    changes = [
        FileChange(path, status, *counts.get(path, (None, None)), old_path=old)
        for path, status, old in _parse_name_status(name_status)
    ]
    for raw in untracked.split(b"\0"):
        if raw:
            changes.append(FileChange(_decode(raw), "untracked", *_untracked_lines(root, raw)))
    changes.sort(key=lambda change: change.path)
    return changes, None


def _parse_numstat(out: bytes) -> dict[str, tuple[int | None, int | None]]:
    """Parse ``git diff --numstat -z``: ``A TAB R TAB PATH NUL``; for a rename
    ``A TAB R TAB NUL OLD NUL NEW NUL``."""
    found: dict[str, tuple[int | None, int | None]] = {}
    fields = out.split(b"\0")
    i = 0
    while i < len(fields):
        record = fields[i]
        i += 1
        if not record:
            continue
        added, removed, path = record.split(b"\t", 2)
        if not path:  # a rename: the old and the new path follow
            path = fields[i + 1]
            i += 2
        found[_decode(path)] = (_count(added), _count(removed))
    return found


def _parse_name_status(out: bytes) -> Iterator[tuple[str, str, str | None]]:
    """Parse ``git diff --name-status -z``: ``S NUL PATH NUL``, or ``R100 NUL OLD NUL NEW NUL``."""
    fields = out.split(b"\0")
    i = 0
    while i < len(fields):
        code = fields[i].decode("ascii", "replace")
        i += 1
        if not code:
            continue
        if code[0] in "RC":
            old, new = _decode(fields[i]), _decode(fields[i + 1])
            i += 2
            yield new, _STATUS[code[0]], old if code[0] == "R" else None
        else:
            path = _decode(fields[i])
            i += 1
            yield path, _STATUS.get(code[0], "modified"), None


def _untracked_lines(root: Path, raw: bytes) -> tuple[int | None, int | None]:
    """Lines of an untracked file, all added, as git would count them; binary → ``None``."""
    path = root / os.fsdecode(raw)
    try:
        if path.is_symlink():
            return 1, 0  # git stores a symlink as its target: one line
        if path.is_dir():  # a nested repository
            return None, None
        lines = 0
        last = b"\n"
        with open(path, "rb") as fh:
            first = True
            while chunk := fh.read(1 << 20):
                if first and b"\0" in chunk[:_BINARY_SNIFF]:
                    return None, None
                first = False
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None, None
    return lines + (last != b"\n"), 0


# -- test summaries -----------------------------------------------------------------

#: What the Codex TUI puts before a command's output lines: ``  └ `` or indentation.
_GUTTER = re.compile(r"^[ \t]*(?:[└│][ \t]?)?[ \t]*")
#: Lines that start the output of another command in a Codex transcript: exec's
#: ``exec`` heading and ``succeeded in 12ms:``/``exited 1 in 12ms:`` line, the
#: TUI's ``• Ran CMD``.
_BOUNDARY = re.compile(
    r"^(?:exec|codex|user|thinking|• (?:Ran|Running)\b.*"
    r"|(?:succeeded|exited -?\d+|failed)\b.* in \d+(?:\.\d+)?m?s:)$"
)

_NUM = r"\d+(?:\.\d+)?"
_PYTEST_WORD = r"(?:failed|passed|skipped|deselected|xfailed|xpassed|errors?|warnings?|rerun)"
_PYTEST = re.compile(
    rf"(?:^|[\s=])(?P<counts>(?:no tests ran|\d+ {_PYTEST_WORD})(?:, \d+ {_PYTEST_WORD})*)"
    rf" in {_NUM}s\b"
)
_PYTEST_HINT = re.compile(rf"\b\d+ {_PYTEST_WORD}\b|no tests ran")
_UNITTEST_RAN = re.compile(rf"\bRan (?P<n>\d+) tests? in {_NUM}s\b")
_UNITTEST_END = re.compile(r"^(?P<word>OK|FAILED|NO TESTS RAN)(?: \((?P<detail>[^)]*)\))?$")
_CARGO = re.compile(
    r"\btest result: (?P<word>ok|FAILED)\. (?P<passed>\d+) passed; (?P<failed>\d+) failed;"
    r" (?P<ignored>\d+) ignored\b"
)
#: A new cargo invocation (or the end of one): what was counted so far is one run.
_CARGO_START = re.compile(r"^Finished\b.*\btarget\(s\) in\b")
_CARGO_END = re.compile(r"^error: (?:test failed|\d+ targets? failed)\b")
_JEST_COUNTS = r"(?P<counts>(?:\d+ \w+, )*(?:\d+ of )?\d+ total)"
_JEST_TESTS = re.compile(rf"^Tests:\s+{_JEST_COUNTS}")
_JEST_SUITES = re.compile(rf"^Test Suites:\s+{_JEST_COUNTS}")
_JEST_BROKEN = re.compile(r"^● Test suite failed to run\b")
_VITEST_COUNTS = r"(?P<counts>\d+ \w+(?: \| \d+ \w+)*)\s+\((?P<total>\d+)\)"
_VITEST_TESTS = re.compile(rf"^Tests\s+{_VITEST_COUNTS}")
_VITEST_FILES = re.compile(rf"^Test Files\s+{_VITEST_COUNTS}")
_VITEST_ERRORS = re.compile(r"^Errors\s+(?P<n>\d+) errors?\b")
_VITEST_BROKEN = re.compile(r"\bFailed Suites (?P<n>\d+)\b")
_MOCHA = re.compile(rf"^(?P<n>\d+) passing \({_NUM}(?:ms|s|m)\)")
_MOCHA_MORE = re.compile(r"^(?P<n>\d+) (?P<word>pending|failing)$")
_NODE_START = re.compile(r"^[#ℹ] tests (?P<n>\d+)$")
_NODE_LINE = re.compile(
    rf"^[#ℹ] (?P<word>suites|pass|fail|cancelled|skipped|todo|duration_ms) {_NUM}$"
)
_GO_PACKAGE = re.compile(
    rf"^(?:ok\s+(?P<ok>\S+)\s+(?:{_NUM}s|\(cached\))"
    rf"|FAIL\s+(?P<fail>\S+)\s+(?:{_NUM}s|(?P<broken>\[(?:build|setup) failed\]))"
    r"|\?\s+(?P<none>\S+)\s+\[no test files\])"
)
_GO_RUN = re.compile(r"^=== RUN\s+\S")
_GO_TEST = re.compile(rf"^--- (?P<word>PASS|FAIL|SKIP): (?P<name>\S+) \({_NUM}s\)")


def _counts(text: str, separator: str) -> dict[str, int]:
    """``"1 failed, 3 passed"`` → ``{"failed": 1, "passed": 3}``."""
    found: dict[str, int] = {}
    for part in text.split(separator):
        number, _, word = part.strip().partition(" ")
        if number.isdigit():
            found[word] = found.get(word, 0) + int(number)
    return found


class _Cargo:
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


class _Go:
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


class _Scanner:
    """One pass over the lines of a text, collecting runs in the order they ended."""

    def __init__(self, text: str) -> None:
        plain = strip_escapes(text.encode("utf-8", "replace"))
        self.lines = [_GUTTER.sub("", line).rstrip() for line in plain.split("\n")]
        self.runs: list[TestRun] = []
        self.cargo: _Cargo | None = None
        self.go: _Go | None = None
        self.region = 0  # where the output of the run being read began

    # -- helpers -------------------------------------------------------------

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
        found = (pattern.search(line) for line in self.lines[self.region : i])
        return [m for m in found if m]

    def close(self) -> None:
        """End the runs that span several summary lines (cargo, go)."""
        if self.cargo:
            self.runs.append(self.cargo.run())
            self.cargo = None
        if self.go:
            run = self.go.run()
            if run:
                self.runs.append(run)
            self.go = None

    def add(self, run: TestRun, end: int) -> None:
        self.close()
        self.runs.append(run)
        self.region = end + 1

    # -- the scan ------------------------------------------------------------

    def scan(self) -> list[TestRun]:
        i = 0
        while i < len(self.lines):
            i = self.step(i) + 1
        self.close()
        return self.runs

    def step(self, i: int) -> int:
        """Read line ``i``; returns the last line it used."""
        line = self.lines[i]
        if not line:
            return i
        if _BOUNDARY.match(line):
            self.close()
            self.region = i + 1
            return i
        for reader in (
            self.cargo_line,
            self.go_line,
            self.jest,
            self.vitest,
            self.pytest,
            self.unittest,
            self.mocha,
            self.node,
        ):
            end = reader(i)
            if end is not None:
                return end
        return i

    def cargo_line(self, i: int) -> int | None:
        line = self.lines[i]
        if _CARGO_START.match(line):
            if self.cargo:
                self.close()
            return i
        if _CARGO_END.match(line):
            self.close()
            self.region = i + 1
            return i
        if "test result:" not in line:
            return None
        found = self.joined(i, _CARGO)
        if not found:
            return None
        match, text, extra = found
        if self.go:
            self.close()
        if not self.cargo:
            self.cargo = _Cargo()
        self.cargo.add(match, text[match.start() :].strip())
        self.region = i + extra + 1
        return i + extra

    def go_line(self, i: int) -> int | None:
        line = self.lines[i]
        test = _GO_TEST.match(line)
        package = None if test else _GO_PACKAGE.match(line)
        started = not test and not package and _GO_RUN.match(line)
        if not test and not package and not started:
            return None
        if self.cargo:
            self.close()
        if not self.go:
            self.go = _Go()
        if started:
            self.go.verbose = True
        elif test:
            self.go.test(test)
        elif package:
            self.go.package(package, line)
            self.region = i + 1
        return i

    def jest(self, i: int) -> int | None:
        match = _JEST_TESTS.match(self.lines[i])
        if not match:
            return None
        tests = _counts(match["counts"], ",")
        suites_match = self.near(i, _JEST_SUITES, -1, 2)
        suites = _counts(suites_match["counts"], ",") if suites_match else {}
        summary = [suites_match.string] if suites_match else []
        failed = tests.get("failed", 0)
        broken = len(self.in_region(i, _JEST_BROKEN))
        run = TestRun(
            "jest",
            tests.get("passed", 0),
            failed,
            tests.get("skipped", 0) + tests.get("todo", 0) + tests.get("pending", 0),
            broken,
            not failed and not broken and not suites.get("failed", 0),
            "\n".join([*summary, match.string]),
        )
        self.add(run, i)
        return i

    def vitest(self, i: int) -> int | None:
        match = _VITEST_TESTS.match(self.lines[i])
        if not match:
            return None
        tests = _counts(match["counts"], "|")
        files_match = self.near(i, _VITEST_FILES, -1, 2)
        files = _counts(files_match["counts"], "|") if files_match else {}
        errors_match = self.near(i, _VITEST_ERRORS, 1, 1)
        errors = int(errors_match["n"]) if errors_match else 0
        errors += sum(int(m["n"]) for m in self.in_region(i, _VITEST_BROKEN))
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
        self.add(run, i + (1 if errors_match else 0))
        return i + (1 if errors_match else 0)

    def pytest(self, i: int) -> int | None:
        if not _PYTEST_HINT.search(self.lines[i]):
            return None
        found = self.joined(i, _PYTEST)
        if not found:
            return None
        match, text, extra = found
        counts = _counts(match["counts"], ",")
        passed = counts.get("passed", 0) + counts.get("xpassed", 0)
        skipped = counts.get("skipped", 0) + counts.get("xfailed", 0)
        failed = counts.get("failed", 0)
        errors = counts.get("error", 0) + counts.get("errors", 0)
        ok = not failed and not errors and passed + skipped > 0
        run = TestRun("pytest", passed, failed, skipped, errors, ok, text.strip())
        self.add(run, i + extra)
        return i + extra

    def unittest(self, i: int) -> int | None:
        match = _UNITTEST_RAN.search(self.lines[i])
        if not match:
            return None
        j = i + 1
        while j < len(self.lines) and j <= i + 3 and not self.lines[j]:
            j += 1
        end = _UNITTEST_END.match(self.lines[j]) if j < len(self.lines) else None
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
        self.add(TestRun("unittest", passed, failed, skipped, errors, ok, summary), j)
        return j

    def mocha(self, i: int) -> int | None:
        match = _MOCHA.match(self.lines[i])
        if not match:
            return None
        counts = {"passing": int(match["n"])}
        summary = [self.lines[i]]
        j = i
        while j + 1 < len(self.lines) and (more := _MOCHA_MORE.match(self.lines[j + 1])):
            counts[more["word"]] = int(more["n"])
            summary.append(self.lines[j + 1])
            j += 1
        failed = counts.get("failing", 0)
        pending = counts.get("pending", 0)
        summary_text = "\n".join(summary)
        run = TestRun("mocha", counts["passing"], failed, pending, 0, not failed, summary_text)
        self.add(run, j)
        return j

    def node(self, i: int) -> int | None:
        match = _NODE_START.match(self.lines[i])
        if not match:
            return None
        counts: dict[str, float] = {}
        summary = [self.lines[i]]
        j = i
        while j + 1 < len(self.lines) and (more := _NODE_LINE.match(self.lines[j + 1])):
            counts[more["word"]] = float(self.lines[j + 1].rsplit(" ", 1)[1])
            summary.append(self.lines[j + 1])
            j += 1
        if "pass" not in counts or "fail" not in counts:
            return None
        failed, cancelled = int(counts["fail"]), int(counts.get("cancelled", 0))
        run = TestRun(
            "node",
            int(counts["pass"]),
            failed,
            int(counts.get("skipped", 0) + counts.get("todo", 0)),
            cancelled,
            not failed and not cancelled,
            "\n".join(summary),
        )
        self.add(run, j)
        return j


def _pairs(detail: str) -> dict[str, int]:
    """``"failures=1, expected failures=2"`` → ``{"failures": 1, "expected failures": 2}``."""
    found: dict[str, int] = {}
    for part in detail.split(","):
        key, sep, value = part.partition("=")
        if sep and value.strip().isdigit():
            found[key.strip()] = int(value)
    return found


def parse_tests(text: str) -> list[TestRun]:
    """Every test run whose summary ``text`` shows, in the order they appear.

    ``text`` is readable output (a rendered log, a command's output); escape
    sequences left in it are ignored, and so is the Codex TUI's ``└`` gutter
    before command output. A summary line wrapped onto the next line is
    joined again. cargo's per-binary ``test result:`` lines and go's
    per-package lines make one run per invocation (a new invocation is known by
    cargo's ``Finished … target(s) in``, by ``error: test failed`` or by the
    next command in a Codex transcript). A summary whose outcome was cut off
    (``Ran 3 tests`` without ``OK``/``FAILED``) is left out.
    """
    return _Scanner(text).scan()


# -- tokens and session id from the log ----------------------------------------------

_TUI_TOKENS = re.compile(
    r"Token usage(?: so far)?:\s*total=(?P<total>[\d,]+)\s+input=(?P<input>[\d,]+)"
    r"(?:\s*\(\+\s*(?P<cached>[\d,]+) cached\))?\s+output=(?P<output>[\d,]+)"
    r"(?:\s*\(reasoning (?P<reasoning>[\d,]+)\))?"
)
_EXEC_TOKENS = re.compile(r"^tokens used:?\s*\n?\s*(?P<total>[\d,]+)\s*$", re.MULTILINE)
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_LOG_SESSION = re.compile(rf"(?:session id:\s*|codex (?:exec )?resume\s+)(?P<id>{_UUID})")


def _int(value: str | None) -> int:
    return int(value.replace(",", "")) if value else 0


def parse_tokens(text: str) -> Tokens | None:
    """The last token count Codex printed in a log, or ``None``.

    The TUI prints ``Token usage: total=… input=… (+ … cached) output=…
    (reasoning …)`` on exit, where ``input`` leaves out the cached input;
    ``codex exec`` prints ``tokens used`` and the total on the next line.
    """
    found: list[tuple[int, Tokens]] = []
    for m in _TUI_TOKENS.finditer(text):
        cached = _int(m["cached"])
        output = _int(m["output"])
        total_input = _int(m["input"]) + cached
        tokens = Tokens(total_input, output, total_input + output, cached, _int(m["reasoning"]))
        found.append((m.start(), tokens))
    for m in _EXEC_TOKENS.finditer(text):
        found.append((m.start(), Tokens(None, None, _int(m["total"]))))
    return max(found, key=lambda item: item[0])[1] if found else None


def log_session_id(text: str) -> str | None:
    """The Codex session id a log shows (exec's header, the TUI's ``codex resume ID``)."""
    found = _LOG_SESSION.findall(text)
    return str(found[-1]).lower() if found else None


# -- errors -----------------------------------------------------------------------

#: ``codex exec``'s error line, and the TUI's error cell (``■ …``).
_EXEC_ERROR = re.compile(r"^ERROR:\s*(?P<text>.*)$")
_TUI_ERROR = re.compile(r"^■\s*(?P<text>.*)$")
#: The TUI's divider after a turn: an error above it belongs to an earlier turn.
_TURN_DONE = re.compile(r"^\s*─*\s*Worked for\b")
#: Continuation lines joined onto an error that was wrapped.
_MAX_ERROR_LINES = 20


def error_message(text: str) -> str:
    """The message in an error as Codex prints it.

    Codex shows an API's error body as it came, e.g. ``{"error": {"message":
    "…", "type": …}}``: its ``message`` is the error. Anything else is kept as
    it is, stripped.
    """
    text = text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if isinstance(message, str) and message.strip():
            return message.strip()
    return text


def log_error(text: str) -> str | None:
    """The last error a log shows: exec's ``ERROR: …`` line or the TUI's ``■ …``.

    A TUI error followed by a turn's ``Worked for`` divider is over (a later
    turn went on). Lines the terminal or Codex wrapped are joined again: a
    JSON body until it is whole, the TUI's cell up to its blank line.
    Returns the message (:func:`error_message`), or None.
    """
    lines = text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        exec_error = _EXEC_ERROR.match(line)
        match = exec_error or _TUI_ERROR.match(line)
        if match is None:
            continue
        rest = lines[index + 1 :]
        if exec_error is None and any(_TURN_DONE.match(later) for later in rest):
            return None
        parts = [match["text"]]
        for later in rest[:_MAX_ERROR_LINES]:
            if not later.strip() or _EXEC_ERROR.match(later) or _TUI_ERROR.match(later):
                break
            if _whole(parts) or (exec_error and not parts[0].lstrip().startswith("{")):
                break
            parts.append(later)
        return error_message(_joined(parts)) or None
    return None


def _whole(parts: list[str]) -> bool:
    """Whether the error text so far is a complete JSON body (no more lines belong to it)."""
    if not parts[0].lstrip().startswith("{"):
        return False
    return any(_parses(text) for text in ("".join(parts), " ".join(parts)))


def _joined(parts: list[str]) -> str:
    """Wrapped lines of an error joined again: without a space where that makes
    JSON whole (a hard wrap), else with one (a wrap at a space)."""
    glued = "".join(parts)
    return glued if _parses(glued) else " ".join(part.strip() for part in parts)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# -- the rollout file -------------------------------------------------------------

#: Function calls whose output is a shell command's output.
_COMMAND_TOOLS = frozenset(
    {"exec_command", "write_stdin", "shell", "shell_command", "local_shell", "container.exec"}
)
#: The header unified exec puts before a command's output in ``function_call_output``.
_OUTPUT_HEADER = re.compile(r"\A(?:[A-Z][\w ]*:[^\n]*\n|Process exited[^\n]*\n)*Output:\n")


def find_rollout(codex_home: Path, session_id: str) -> Path | None:
    """The rollout file of a session: ``sessions/YYYY/MM/DD/rollout-…-<id>.jsonl``.

    The day folders around the time inside a version-7 session id are looked
    at first, then every day; archived sessions (``archived_sessions/``) too.
    With several files for one id the newest wins.
    """
    sid = session_id.strip().lower()
    if not re.fullmatch(_UUID, sid):
        return None
    name = f"rollout-*-{sid}.jsonl"
    sessions = codex_home / "sessions"
    folders: list[Path] = []
    day = _uuid7_day(sid)
    if day is not None:
        for offset in (0, -1, 1):
            d = day + timedelta(days=offset)
            folders.append(sessions / f"{d:%Y}" / f"{d:%m}" / f"{d:%d}")
    for folder in folders:
        found = sorted(folder.glob(name)) if folder.is_dir() else []
        if found:
            return _newest(found)
    for root in (sessions, codex_home / "archived_sessions"):
        found = sorted(root.rglob(name)) if root.is_dir() else []
        if found:
            return _newest(found)
    return None


def _newest(paths: list[Path]) -> Path:
    def mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    return max(paths, key=mtime)


def _uuid7_day(sid: str) -> datetime | None:
    """The day a version-7 UUID was made (its first 48 bits are Unix milliseconds)."""
    if sid[14] != "7":
        return None
    millis = int(sid.replace("-", "")[:12], 16)
    try:
        return datetime.fromtimestamp(millis / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _number(usage: dict[str, Any], key: str) -> int | None:
    item = usage.get(key)
    return item if isinstance(item, int) and not isinstance(item, bool) else None


def _usage(value: object) -> Tokens | None:
    if not isinstance(value, dict):
        return None
    inp, out = _number(value, "input_tokens"), _number(value, "output_tokens")
    total = _number(value, "total_tokens")
    if total is None:
        if inp is None or out is None:
            return None
        total = inp + out
    cached, reasoning = (
        _number(value, "cached_input_tokens"),
        _number(value, "reasoning_output_tokens"),
    )
    return Tokens(inp, out, total, cached, reasoning)


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [p.get("text") for p in content if isinstance(p, dict)]
    return "".join(p for p in parts if isinstance(p, str))


class _Rollout:
    """What :func:`rollout_facts` collects while it reads a rollout, entry by entry.

    With ``keep_outputs`` off, each command's output is parsed for test
    summaries at once and only the runs found are kept.
    """

    def __init__(self, keep_outputs: bool = True) -> None:
        self.keep_outputs = keep_outputs
        self.tokens: Tokens | None = None
        self.completed: str | None = None  # task_complete's last_agent_message
        self.assistant: str | None = None  # the last assistant message recorded
        self.outputs: dict[str, str] = {}  # command id → its whole output
        self.runs: dict[str, list[TestRun]] = {}  # command id → the test runs it shows
        self.chunks: list[str] = []  # function_call_output of shell tools
        self.chunk_runs: list[TestRun] = []
        self.chunk_count = 0
        self.shell_calls: set[str] = set()
        self.turns = 0  # turns that ended (task_complete)
        self.error: str | None = None  # the error the last turn ended with

    def output(self, key: str, text: str) -> None:
        if self.keep_outputs:
            self.outputs[key] = text
        else:
            self.runs[key] = parse_tests(text)

    def event(self, kind: object, payload: dict[str, Any], number: int) -> None:
        if kind == "token_count":
            info = payload.get("info")
            usage = _usage(info.get("total_token_usage")) if isinstance(info, dict) else None
            self.tokens = usage or self.tokens
        elif kind == "task_complete":
            message = payload.get("last_agent_message")
            if isinstance(message, str) and message.strip():
                self.completed = message
            self.turns += 1
            self.error = _rollout_error(payload.get("error"))
        elif kind in ("task_started", "turn_aborted"):
            self.error = None
        elif kind == "error":
            self.error = _rollout_error(payload) or self.error
        elif kind == "item_completed":
            item = payload.get("item")
            if isinstance(item, dict) and item.get("type") == "CommandExecution":
                output = item.get("aggregated_output")
                if isinstance(output, str):
                    self.output(str(item.get("id", number)), output)
        elif kind == "exec_command_end":
            output = payload.get("aggregated_output")
            if not isinstance(output, str):
                parts = (payload.get("stdout"), payload.get("stderr"))
                output = "\n".join(p for p in parts if isinstance(p, str))
            self.output(str(payload.get("call_id", number)), output)

    def item(self, kind: object, payload: dict[str, Any]) -> None:
        if kind == "message" and payload.get("role") == "assistant":
            text = _text_of(payload.get("content"))
            if text.strip():
                self.assistant = text
        elif kind in ("function_call", "custom_tool_call", "local_shell_call"):
            if kind == "local_shell_call" or payload.get("name") in _COMMAND_TOOLS:
                self.shell_calls.add(str(payload.get("call_id")))
        elif kind in ("function_call_output", "custom_tool_call_output") and (
            str(payload.get("call_id")) in self.shell_calls
        ):
            chunk = _call_output(payload.get("output"))
            self.chunk_count += 1
            if self.keep_outputs:
                self.chunks.append(chunk)
            else:  # counted only if no command's output is recorded
                self.chunk_runs.extend(parse_tests(chunk))

    def read(self, path: Path) -> bool:
        """Read the rollout at ``path`` line by line; False when it cannot be read."""
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for number, line in enumerate(fh):
                    if _SKIPPED_ENTRY.search(line, 0, 200):
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    payload = entry.get("payload") if isinstance(entry, dict) else None
                    if not isinstance(payload, dict):
                        continue
                    if entry.get("type") == "event_msg":
                        self.event(payload.get("type"), payload, number)
                    elif entry.get("type") == "response_item":
                        self.item(payload.get("type"), payload)
        except OSError:
            return False
        return True


#: Rollout entries that hold nothing a report needs (the first one holds Codex's
#: whole instructions): known by the start of their line and skipped unparsed.
_SKIPPED_ENTRY = re.compile(
    r'"type":"(?:session_meta|turn_context|world_state|thread_settings_applied)"'
)


@dataclass(frozen=True)
class RolloutSummary:
    """What a report takes from a rollout file (see :func:`read_rollout`)."""

    tokens: Tokens | None
    last_message: str | None
    tests: list[TestRun]
    outputs: int  # command outputs read (the tests come from the rollout when any)
    turns: int  # turns that ended
    error: str | None  # the error the last turn ended with (None: it did not fail)


def read_rollout(path: Path) -> RolloutSummary | None:
    """Token totals, last message, test runs and the last turn's error, in one pass.

    What :func:`rollout_facts` reads, but each command's output is parsed for
    test summaries as it is read and then dropped: memory does not grow with
    the outputs. The error is that of the last turn that ended
    (``task_complete``'s ``error``, or an ``error`` event during it), unwrapped
    by :func:`error_message`; None after a turn that ended well, or while one
    runs. None when the file cannot be read.
    """
    facts = _Rollout(keep_outputs=False)
    if not facts.read(path):
        return None
    if facts.runs:
        tests = [run for runs in facts.runs.values() for run in runs]
    else:
        tests = facts.chunk_runs
    return RolloutSummary(
        tokens=facts.tokens,
        last_message=facts.completed or facts.assistant,
        tests=tests,
        outputs=len(facts.runs) or facts.chunk_count,
        turns=facts.turns,
        error=facts.error,
    )


def rollout_facts(path: Path) -> tuple[Tokens | None, str | None, list[str]]:
    """What a rollout file says: token totals, the last agent message, command outputs.

    - tokens: ``info.total_token_usage`` of the last ``token_count`` event;
    - the last agent message: ``last_agent_message`` of the last
      ``task_complete`` event, else the last assistant message recorded;
    - the full output of each command Codex ran, in order: the
      ``CommandExecution`` items (``aggregated_output``) of 0.169, or the
      ``exec_command_end`` events of older versions; from the
      ``function_call_output`` of shell tools only when the file has neither
      (those may be partial chunks of one command).

    Unreadable lines are skipped; an unreadable file gives nothing.
    """
    facts = _Rollout()
    if not facts.read(path):
        return None, None, []
    outputs = list(facts.outputs.values()) if facts.outputs else facts.chunks
    return facts.tokens, facts.completed or facts.assistant, outputs


def _rollout_error(value: object) -> str | None:
    """The message of a rollout's error object (``{"message": …}``), unwrapped."""
    if isinstance(value, dict):
        value = value.get("message")
    return error_message(value) if isinstance(value, str) else None


def _call_output(output: object) -> str:
    if isinstance(output, dict):
        output = output.get("content", output.get("output", ""))
    if not isinstance(output, str):
        return _text_of(output)
    if output.startswith("{"):
        try:
            decoded = json.loads(output)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("output"), str):
            return str(decoded["output"])
    return _OUTPUT_HEADER.sub("", output, count=1)


# -- the report ---------------------------------------------------------------------


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = strip_escapes(text.encode("utf-8", "replace")).strip()
    return cleaned or None


def build(
    task: Task,
    log_text: str,
    codex_home: Path | None = None,
    now: datetime | None = None,
    log_head: str = "",
) -> Report:
    """The report of ``task``; ``log_text`` is the end of its log as readable text.

    ``codex_home`` is where Codex keeps its sessions (default: the task's
    recorded ``codex_home``); without one, or without a session id, the
    rollout is not read and tests and tokens come from the log. Tests come
    from one source, never both: the rollout's command outputs when it has
    any, else the log. The error is the one the rollout says the last turn
    ended with; without a rollout (or for a failed task whose rollout says
    none) the last error in the log, else the one last seen on screen.
    ``log_head`` (the start of the log, as text) is where ``codex exec``
    prints its session id. A task that has not ended is measured up to ``now``.
    """
    session_id = task.codex_session_id or log_session_id(log_text) or log_session_id(log_head)
    home = codex_home or (Path(task.codex_home) if task.codex_home else None)
    rollout = find_rollout(home, session_id) if home and session_id else None
    summary = read_rollout(rollout) if rollout else None

    tests: list[TestRun] = []
    source: str | None = None
    if summary is not None and summary.outputs:
        tests, source = summary.tests, "rollout"
    else:
        tests, source = parse_tests(log_text), "log"
    if not tests:
        source = None

    error = summary.error if summary is not None else None
    if error is None and (summary is None or task.state == "failed"):
        error = log_error(log_text) or (error_message(task.error) if task.error else None)

    started = _stamp(task.created_at)
    ended_at = task.updated_at if task.state in FINAL_STATES else None
    end = _stamp(ended_at) if ended_at else (now or datetime.now(timezone.utc))
    duration = max(0.0, (end - started).total_seconds()) if started and end else 0.0

    files, files_error = changed_files(task.workdir, task.start_commit)
    return Report(
        task=task.id,
        name=task.name,
        state=task.state,
        mode=task.mode,
        workdir=task.workdir,
        started_at=task.created_at,
        ended_at=ended_at,
        duration_s=round(duration, 3),
        exit_code=task.exit_code,
        session_id=session_id,
        attempt=task.attempt,
        start_commit=task.start_commit,
        files=files,
        files_error=files_error,
        tests=tests,
        tests_source=source,
        tokens=(summary.tokens if summary else None) or parse_tokens(log_text),
        last_message=_clean((summary.last_message if summary else None) or task.last_message),
        rollout_path=str(rollout) if rollout else None,
        error=_clean(error),
    )


# -- plain text ---------------------------------------------------------------------

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
