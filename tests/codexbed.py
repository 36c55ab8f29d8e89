"""Test bed: the real Codex CLI, offline, in tmux, against the fake model server.

Used by the tests (through the fixtures in ``conftest.py``) and by
``scripts/capture-screens``. Nothing here sleeps for timing: every wait polls
with a timeout.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libtmux
from libtmux.test.retry import retry_until

from tmux_codex.codex.version import CODEX_VERSION, parse_version, version_key
from tmux_codex.sim.home import API_KEY_ENV, write_codex_home

ROOT = Path(__file__).resolve().parent.parent
LOCAL_CODEX = ROOT / ".tools" / "codex" / "node_modules" / ".bin" / "codex"
INSTALL_SCRIPT = ROOT / "scripts" / "install-codex"

#: Generous default for waiting on Codex: a busy 2-core machine is slow.
WAIT = 45.0


#: Captured screens, one folder per Codex version: ``codex-<version>/``.
FIXTURES_ROOT = ROOT / "tests" / "fixtures"
#: The variable that points the test bed (and ``scripts/capture-screens``) at another Codex.
TEST_CODEX = "TMUX_CODEX_TEST_CODEX"


class CodexUnavailable(RuntimeError):
    """The Codex CLI to test is not installed, could not be installed, or has no captures."""


def codex_version(binary: Path) -> str:
    """What ``binary --version`` prints (``codex-cli 0.169.0``)."""
    out = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return out.stdout.strip()


def fixtures_dir(version: str) -> Path:
    return FIXTURES_ROOT / f"codex-{version}"


def captured_versions() -> list[str]:
    """Every Codex version with captured screens, oldest first."""
    found = [
        path.name.removeprefix("codex-")
        for path in FIXTURES_ROOT.glob("codex-*")
        if path.is_dir() and any(path.glob("*/raw.log"))
    ]
    return sorted(found, key=version_key)


def binary_version(binary: Path) -> str:
    """The version ``binary`` reports; :class:`CodexUnavailable` if it does not run or say."""
    if not binary.exists():
        raise CodexUnavailable(f"{binary} does not exist")
    try:
        printed = codex_version(binary)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CodexUnavailable(f"{binary} does not run: {exc}") from None
    version = parse_version(printed)
    if version is None:
        raise CodexUnavailable(f"{binary} --version printed {printed!r}: not a Codex version")
    return version


def find_or_install_codex() -> Path:
    """The Codex binary to test: ``TMUX_CODEX_TEST_CODEX``, or the pinned one in ``.tools/codex``.

    Another Codex is accepted when its version has captured screens
    (``tests/fixtures/codex-<version>/``) and refused otherwise. The pinned one
    is installed with ``scripts/install-codex`` when missing. Raises
    :class:`CodexUnavailable` with the reason and what to do.
    """
    override = os.environ.get(TEST_CODEX)
    if override:
        path = Path(override)
        try:
            version = binary_version(path)
        except CodexUnavailable as exc:
            raise CodexUnavailable(f"{TEST_CODEX}={override}: {exc}") from None
        if not fixtures_dir(version).is_dir():
            raise CodexUnavailable(
                f"{TEST_CODEX}={override} is codex {version}, which has no captured screens "
                f"(tests/fixtures/codex-{version}/; captured: {', '.join(captured_versions())}); "
                f"capture them first: scripts/capture-screens --codex {override}"
            )
        return path
    wanted = f"codex-cli {CODEX_VERSION}"
    if LOCAL_CODEX.exists() and codex_version(LOCAL_CODEX) == wanted:
        return LOCAL_CODEX
    proc = subprocess.run(
        [str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0 or not LOCAL_CODEX.exists():
        raise CodexUnavailable(
            f"the pinned Codex CLI ({wanted}) is not installed and scripts/install-codex "
            f"failed: {proc.stderr.strip()[-500:] or 'no output'}"
        )
    return LOCAL_CODEX


def wait_until(
    predicate: Callable[[], bool],
    timeout: float = WAIT,
    interval: float = 0.1,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` (libtmux's ``retry_until``); ``AssertionError`` after ``timeout``."""
    if not retry_until(predicate, timeout, interval=interval, raises=False):
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class CodexEnv:
    """An isolated Codex: its own ``CODEX_HOME`` pointing at the fake model."""

    binary: Path
    home: Path
    base_url: str
    root: Path
    trusted: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.write_config()

    def write_config(self) -> None:
        write_codex_home(self.home, self.base_url, self.trusted)

    @property
    def env(self) -> dict[str, str]:
        """Variables a Codex process needs on top of the inherited ones.

        ``HOME`` is an empty directory so the commands Codex runs do not pick
        up this machine's shell start-up files.
        """
        user_home = self.root / "home"
        user_home.mkdir(parents=True, exist_ok=True)
        return {"CODEX_HOME": str(self.home), API_KEY_ENV: "x", "HOME": str(user_home)}

    def workdir(self, name: str = "project", *, git: bool = False, trusted: bool = True) -> Path:
        """A fresh working directory; a git repository when ``git``."""
        path = self.root / name
        path.mkdir(parents=True)
        if git:
            subprocess.run(["git", "init", "-q", str(path)], check=True)
        if trusted:
            self.trusted.append(path)
            self.write_config()
        return path

    def tui_argv(self, prompt: str | None = None, *extra: str) -> list[str]:
        argv = [str(self.binary), "--no-alt-screen", "--no-daemon", "-a", "on-request", *extra]
        return [*argv, prompt] if prompt is not None else argv

    def exec_argv(self, workdir: Path, prompt: str, *extra: str) -> list[str]:
        return [
            str(self.binary),
            "exec",
            "--sandbox",
            "workspace-write",
            "--skip-git-repo-check",
            *extra,
            "-C",
            str(workdir),
            prompt,
        ]

    def run_exec(
        self, workdir: Path, prompt: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``codex exec`` to completion, stdin from /dev/null."""
        return self._run(self.exec_argv(workdir, prompt), workdir, timeout)

    def run_exec_resume(
        self, workdir: Path, session_id: str, prompt: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``codex exec resume SESSION_ID PROMPT`` to completion."""
        argv = [
            str(self.binary),
            "exec",
            "--sandbox",
            "workspace-write",
            "--skip-git-repo-check",
            "resume",
            session_id,
            prompt,
        ]
        return self._run(argv, workdir, timeout)

    def _run(self, argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=cwd,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@dataclass
class CodexPane:
    """A Codex process in a tmux pane, with every byte it printed in ``raw_log``."""

    pane: libtmux.Pane
    raw_log: Path

    def screen(self) -> str:
        """The visible screen, wrapped lines joined (``capture-pane -J``)."""
        out = self.pane.cmd("capture-pane", "-p", "-J").stdout
        return "\n".join(out)

    def title(self) -> str:
        return self.fmt("#{pane_title}")

    def fmt(self, fmt: str) -> str:
        out = self.pane.cmd("display-message", "-p", "-t", str(self.pane.pane_id), fmt).stdout
        return out[0] if out else ""

    def dead(self) -> bool:
        return self.fmt("#{pane_dead}") == "1"

    def exit_status(self) -> int | None:
        value = self.fmt("#{pane_dead_status}")
        return int(value) if value else None

    def raw(self) -> bytes:
        return self.raw_log.read_bytes() if self.raw_log.exists() else b""

    def wait_screen(self, text: str, timeout: float = WAIT) -> str:
        """Wait until ``text`` is on screen; returns that screen."""
        seen: list[str] = [""]

        def check() -> bool:
            seen[0] = self.screen()
            return text in seen[0]

        try:
            wait_until(check, timeout, what=f"{text!r} on screen")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- screen ---\n{seen[0]}\n--- end ---") from None
        return seen[0]

    def wait_match(self, pattern: str, timeout: float = WAIT) -> str:
        """Wait until the screen matches the regex ``pattern``; returns that screen."""
        regex = re.compile(pattern)
        seen = [""]

        def check() -> bool:
            seen[0] = self.screen()
            return regex.search(seen[0]) is not None

        try:
            wait_until(check, timeout, what=f"screen matching {pattern!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- screen ---\n{seen[0]}\n--- end ---") from None
        return seen[0]

    def wait_title(self, predicate: Callable[[str], bool], timeout: float = WAIT) -> str:
        wait_until(lambda: predicate(self.title()), timeout, what="pane title")
        return self.title()

    def wait_dead(self, timeout: float = WAIT) -> int:
        """Wait for the process to exit; its exit status.

        tmux marks a pane dead when its pty closes and learns the exit status
        a moment later, so wait for the status, not just ``pane_dead``.
        """
        dead_since: list[float] = []

        def exited() -> bool:
            if not self.dead():
                return False
            if self.exit_status() is not None:
                return True
            # tmux 3.3a sometimes misses the SIGCHLD of a pane's process when
            # the pane has a pipe-pane job: the pane stays dead with no status
            # and an unreaped zombie. Another SIGCHLD makes it reap.
            dead_since.append(time.monotonic())
            if dead_since[-1] - dead_since[0] > 1.0:
                os.kill(int(self.fmt("#{pid}")), signal.SIGCHLD)
            return False

        wait_until(exited, timeout, what="the pane's process to exit")
        status = self.exit_status()
        assert status is not None
        return status

    def paste(self, text: str, enter: bool = True) -> None:
        """Type ``text`` into the TUI composer by bracketed paste (then Enter)."""
        subprocess.run(
            [*_tmux_base(self.pane.server), "load-buffer", "-b", "codexbed", "-"],
            input=text.encode(),
            check=True,
        )
        self.pane.cmd("paste-buffer", "-p", "-d", "-b", "codexbed", "-t", str(self.pane.pane_id))
        if enter:
            wait_until(lambda: text.splitlines()[-1][:20] in self.screen(), what="pasted text")
            self.keys("Enter")

    def keys(self, *keys: str) -> None:
        self.pane.cmd("send-keys", "-t", str(self.pane.pane_id), *keys)


def _tmux_base(server: libtmux.Server) -> list[str]:
    base = ["tmux"]
    if server.socket_name:
        base += ["-L", str(server.socket_name)]
    if server.socket_path:
        base += ["-S", str(server.socket_path)]
    return base


def run_in_pane(
    session: libtmux.Session,
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    raw_log: Path,
    width: int = 120,
    height: int = 40,
    name: str = "codex",
    stdin_devnull: bool = False,
) -> CodexPane:
    """Start ``argv`` in a new window of ``session``.

    Before the program starts, the pane is sized ``width`` by ``height`` and
    ``pipe-pane`` appends its output to ``raw_log``, so the log holds every
    byte from the first. The window keeps a dead pane (``remain-on-exit``).
    ``stdin_devnull`` runs the program with stdin from /dev/null, as
    ``codex exec`` must be run.
    """
    pipe = f"cat >> {shlex.quote(str(raw_log))}"
    script = (
        f'tmux set-option -w -t "$TMUX_PANE" remain-on-exit on && '
        f'tmux resize-window -t "$TMUX_PANE" -x {width} -y {height} && '
        f'tmux pipe-pane -o -t "$TMUX_PANE" {shlex.quote(pipe)} && '
        f"exec {shlex.join(argv)}" + (" < /dev/null" if stdin_devnull else "")
    )
    window = session.new_window(
        window_name=name,
        start_directory=str(cwd),
        attach=False,
        environment=env,
        window_shell=f"sh -c {shlex.quote(script)}",
    )
    pane = window.active_pane
    assert pane is not None
    return CodexPane(pane=pane, raw_log=raw_log)
