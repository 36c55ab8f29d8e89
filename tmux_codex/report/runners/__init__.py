"""Test runners whose summaries a report reads: one module per runner, and their registry.

:func:`parse_tests` finds every test run a text shows: it makes one
:class:`~tmux_codex.report.testrun.Scan` of the text and lets it ask every
registered runner about each line (:func:`runners`, in their ``order``).
``npm test`` prints the summary of the runner it starts, which counts once.

Adding a runner is adding one module to this package: say ``tap.py`` with ::

    from tmux_codex.report.testrun import Runner, Scan, TestRun

    def read(scan: Scan, i: int) -> int | None:
        ...  # see Runner: None when line i is not yours, else scan.add(...)

    RUNNER = Runner("tap", read, order=90)

Every module of this package is a runner module: the first call of
:func:`runners` imports each one (whatever its name) and registers its
``RUNNER``; nothing else lists them. Name the module after its runner.
``order`` decides who is asked first when two runners could claim a line
(the built-in ones use 10 to 80). Its tests go in ``tests/test_report.py``
(``RUNNER_OUTPUTS``), with real output of the runner under
``tests/fixtures/test-output/``.

A runner defined anywhere else (a test, a plugin) is one object:
:func:`register` adds it, :func:`unregister` takes it away.
"""

from __future__ import annotations

import importlib
import pkgutil

from tmux_codex.report.testrun import Runner, Scan, TestRun

__all__ = ["parse_tests", "register", "runners", "unregister"]

_registry: dict[str, Runner] = {}
_ordered: list[Runner] = []  # the registered runners in the order they are asked
_loaded = False


def _load() -> None:
    """Import every module of this package once and register its ``RUNNER``."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        runner = getattr(module, "RUNNER", None)
        if not isinstance(runner, Runner):
            raise TypeError(f"{module.__name__} declares no RUNNER (a Runner)")
        _registry.setdefault(runner.name, runner)
    _sort()


def _sort() -> None:
    _ordered[:] = sorted(_registry.values(), key=lambda runner: (runner.order, runner.name))


def register(runner: Runner) -> Runner:
    """Add ``runner`` (in place of a runner of the same name); returns it."""
    _load()
    _registry[runner.name] = runner
    _sort()
    return runner


def unregister(name: str) -> None:
    """Take away the runner called ``name`` (nothing happens when there is none)."""
    _load()
    _registry.pop(name, None)
    _sort()


def runners() -> list[Runner]:
    """Every registered runner, in the order they are asked: by ``order``, then name."""
    _load()
    return list(_ordered)


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
    return Scan(text).scan(runners())
