"""The test-runner registry: every runner module is registered, and a new runner is one object.

See ``tmux_codex/report/runners/__init__.py``; what each runner reads is in
``tests/test_report.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tmux_codex.report import runners as registry
from tmux_codex.report.runners import parse_tests, register, runners, unregister
from tmux_codex.report.testrun import Runner, Scan, TestRun

OUTPUTS = Path(__file__).parent / "fixtures" / "test-output"

#: The built-in runners, in the order they are asked about a line.
BUILT_IN = ["cargo", "go", "jest", "vitest", "pytest", "unittest", "mocha", "node"]


def test_every_runner_module_is_registered() -> None:
    modules = [info.name for info in pkgutil.iter_modules(registry.__path__)]
    assert sorted(modules) == sorted(BUILT_IN)
    known = runners()
    for name in modules:
        module = importlib.import_module(f"tmux_codex.report.runners.{name}")
        assert isinstance(module.RUNNER, Runner)
        assert module.RUNNER.name == name  # a module is named after its runner
        assert module.RUNNER in known
    assert [runner.name for runner in known] == BUILT_IN


# -- a runner defined here --------------------------------------------------------------

_TALLY = re.compile(r"^tally: (?P<ok>\d+) ok, (?P<bad>\d+) bad$")


def _read_tally(scan: Scan, i: int) -> int | None:
    match = _TALLY.match(scan.lines[i])
    if not match:
        return None
    bad = int(match["bad"])
    scan.add(TestRun("tally", int(match["ok"]), bad, None, 0, not bad, match.string), i)
    return i


TALLY = Runner("tally", _read_tally)


@pytest.fixture
def tally() -> Iterator[Runner]:
    register(TALLY)
    try:
        yield TALLY
    finally:
        unregister(TALLY.name)


def test_a_registered_runner_is_asked(tally: Runner) -> None:
    pytest_output = (OUTPUTS / "pytest-pass.txt").read_text()
    text = f"tally: 2 ok, 1 bad\n{pytest_output}• Ran make check\ntally: 5 ok, 0 bad\n"
    runs = parse_tests(text)
    assert [(r.runner, r.passed, r.failed, r.ok) for r in runs] == [
        ("tally", 2, 1, False),
        ("pytest", 3, 0, True),
        ("tally", 5, 0, True),
    ]
    assert runners()[-1] is tally  # order 100: after the built-in ones


def test_unregister_forgets_it(tally: Runner) -> None:
    unregister(tally.name)
    assert tally not in runners()
    assert parse_tests("tally: 2 ok, 1 bad\n") == []


def test_order_decides_who_takes_a_line() -> None:
    """A runner asked first (lower ``order``) has a line before the built-in ones."""

    def claim_pytest(scan: Scan, i: int) -> int | None:
        if " passed" not in scan.lines[i]:
            return None
        scan.add(TestRun("first", 0, 0, None, 0, True, scan.lines[i]), i)
        return i

    text = (OUTPUTS / "pytest-pass.txt").read_text()
    register(Runner("first", claim_pytest, order=0))
    try:
        assert [r.runner for r in parse_tests(text)] == ["first"]
    finally:
        unregister("first")
    assert [r.runner for r in parse_tests(text)] == ["pytest"]


# -- a runner added as a file -----------------------------------------------------------

_MODULE = """
from tmux_codex.report.testrun import Runner, Scan, TestRun


def read(scan: Scan, i: int) -> int | None:
    if scan.lines[i] != "all good":
        return None
    scan.add(TestRun("{name}", 1, 0, 0, 0, True, "all good"), i)
    return i


RUNNER = Runner("{name}", read)
"""


@pytest.fixture
def package_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The runners package with ``tmp_path`` as one more folder of it, loaded afresh."""
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_registry", {})
    monkeypatch.setattr(registry, "_ordered", [])
    monkeypatch.setattr(registry, "_loaded", False)
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").parent == tmp_path:
            del sys.modules[name]


def test_a_runner_module_is_found_by_being_there(package_dir: Path) -> None:
    (package_dir / "goodness.py").write_text(_MODULE.format(name="goodness"))
    importlib.invalidate_caches()
    assert [runner.name for runner in runners()] == [*BUILT_IN, "goodness"]
    assert [r.runner for r in parse_tests("all good\n")] == ["goodness"]


def test_a_module_without_a_runner_is_refused(package_dir: Path) -> None:
    (package_dir / "helper.py").write_text("HELP = 1\n")
    importlib.invalidate_caches()
    with pytest.raises(TypeError, match=r"runners\.helper declares no RUNNER"):
        runners()
