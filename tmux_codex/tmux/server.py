"""Everything tmux-codex asks of tmux; the only module that imports libtmux.

Reads (listing panes, capturing screens) run the ``tmux`` binary directly,
batched into one call, so read commands stay fast and never import libtmux.
Windows are created through libtmux, imported only when one is made.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from tmux_codex.core.errors import TmuxUnavailable

MIN_VERSION = (3, 2)
TASK_OPTION = "@tmux-codex-task"
_SEP = "\x1f"
_FORMAT = _SEP.join(
    [
        "#{session_name}",
        "#{window_id}",
        "#{pane_id}",
        "#{pane_dead}",
        "#{pane_dead_status}",
        "#{pane_dead_signal}",
        "#{pane_pipe}",
        "#{pid}",
        "#{pane_pid}",
        "#{pane_width}",
        "#{pane_height}",
        "#{" + TASK_OPTION + "}",
        "#{pane_title}",
    ]
)
_NO_SERVER = ("no server running", "error connecting to", "No such file or directory")


#: A tmux command that takes longer has a hung server behind it.
TMUX_TIMEOUT = 30.0
#: A run of ``#`` that tmux's format expansion does not copy as it is.
_HASHES = re.compile(r"#+(?![#\[])")


def literal(text: str, formats: bool = True, strftime: bool = False) -> str:
    """``text`` as one argument of a tmux command that tmux takes literally.

    tmux splits its command line into commands at arguments ending in ``;``:
    ``X;`` is ``X`` and the end of the command, ``X\\;`` is ``X;`` (so ``X\\\\;``
    is ``X\\;``); no other backslash is special (``cmd_parse_from_arguments``,
    checked with tmux 3.3a).
    With ``formats`` (``new-window -n``/``-c``, ``new-session -s``/``-n``/``-c``,
    ``rename-window``, ``display-message``, ``pipe-pane``: tmux expands
    ``#{...}``, ``#(command)`` and the like in them) each ``#`` is doubled,
    except in a run of ``#`` just before ``[``, which tmux copies as it is
    (a style, ``#[...]``, is left for drawing). With ``strftime``
    (``display-message`` and ``pipe-pane`` pass through ``strftime`` first)
    each ``%`` is doubled too. Targets (``-t``, ``-c CLIENT``) and option
    values (without ``-F``) are not expanded: ``formats=False``.
    """
    if formats:
        text = _HASHES.sub(lambda m: m.group() * 2, text)
    if strftime:
        text = text.replace("%", "%%")
    if text.endswith(";"):
        text = text[:-1] + "\\;"
    return text


_literal = literal  # for methods with a ``literal`` parameter


@dataclass(frozen=True)
class PaneInfo:
    session: str
    window_id: str
    pane_id: str
    dead: bool
    dead_status: int | None
    #: The signal that ended the pane's process (tmux 3.3+; None otherwise).
    dead_signal: int | None
    pipe: bool  # tmux pipes its output (``pipe-pane``) somewhere
    server_pid: int
    pid: int
    width: int
    height: int
    task: str
    title: str


def _pane_info(line: str) -> PaneInfo | None:
    parts = line.split(_SEP, 12)
    if len(parts) != 13:
        return None
    session, window, pane, dead, status, signum, pipe, server, pid = parts[:9]
    width, height, task, title = parts[9:]
    return PaneInfo(
        session=session,
        window_id=window,
        pane_id=pane,
        dead=dead == "1",
        dead_status=int(status) if status.lstrip("-").isdigit() else None,
        dead_signal=int(signum) if signum.isdigit() and int(signum) > 0 else None,
        pipe=pipe == "1",
        server_pid=int(server) if server.isdigit() else 0,
        pid=int(pid) if pid.isdigit() else 0,
        width=int(width or 0),
        height=int(height or 0),
        task=task,
        title=title,
    )


def _split_screens(lines: list[str], mark: str) -> dict[str, str]:
    """Screens from output where each is preceded by ``MARK PANE_ID``."""
    screens: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith(mark + " "):
            current = screens.setdefault(line[len(mark) + 1 :], [])
        elif current is not None:
            current.append(line)
    return {pane: "\n".join(body) for pane, body in screens.items()}


def preload() -> None:
    """Import libtmux now, before a lock is taken that :meth:`Tmux.new_window` runs under."""
    import importlib

    importlib.import_module("libtmux")


class Tmux:
    """One tmux server: the default one, or ``tmux -L socket``."""

    def __init__(self, socket: str = "") -> None:
        self.socket = socket

    def base(self) -> list[str]:
        return ["tmux", "-L", self.socket] if self.socket else ["tmux"]

    def run(self, *args: str, input: bytes | None = None, check: bool = True) -> list[str]:
        """Run a tmux command; its stdout lines. ``TmuxUnavailable`` on failure."""
        try:
            proc = subprocess.run(
                [*self.base(), *args],
                input=input,
                capture_output=True,
                check=False,
                timeout=TMUX_TIMEOUT,
            )
        except FileNotFoundError:
            raise TmuxUnavailable(
                "tmux is not installed; install tmux 3.2 or newer (e.g. apt-get install tmux)"
            ) from None
        except subprocess.TimeoutExpired:
            raise TmuxUnavailable(
                f"tmux {args[0]} did not answer in {TMUX_TIMEOUT:g}s: is its server hung?"
            ) from None
        if check and proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
            raise TmuxUnavailable(f"tmux {args[0]} failed: {message}")
        return proc.stdout.decode(errors="replace").splitlines()

    # -- the server -------------------------------------------------------

    def version(self) -> tuple[int, int]:
        import shutil

        if shutil.which("tmux") is None:
            raise TmuxUnavailable(
                "tmux is not installed; install tmux 3.2 or newer (e.g. apt-get install tmux)"
            )
        out = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False)
        match = re.search(r"(\d+)\.(\d+)", out.stdout)
        if not match:
            raise TmuxUnavailable(f"cannot tell the tmux version from {out.stdout.strip()!r}")
        return int(match.group(1)), int(match.group(2))

    def check_version(self) -> None:
        found = self.version()
        if found < MIN_VERSION:
            raise TmuxUnavailable(
                f"tmux {found[0]}.{found[1]} is too old: tmux-codex needs tmux "
                f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer"
            )

    def panes(self) -> dict[str, PaneInfo]:
        """Every pane of the server, by window id; empty when no server runs."""
        return self.snapshot([])[0]

    def snapshot(self, pane_ids: list[str]) -> tuple[dict[str, PaneInfo], dict[str, str]]:
        """Every pane (by window id) and the screens of ``pane_ids``, in one tmux call.

        When one of ``pane_ids`` is gone the single call fails; then the panes
        are listed and the screens captured on their own.
        """
        mark = f"==tmux-codex-capture-{os.urandom(8).hex()}=="
        args = ["list-panes", "-a", "-F", _FORMAT]
        for pane in pane_ids:
            args += [";", "display-message", "-p", "-t", pane, f"{mark} #{{pane_id}}"]
            args += [";", "capture-pane", "-p", "-t", pane]
        try:
            proc = subprocess.run(
                [*self.base(), *args], capture_output=True, check=False, timeout=TMUX_TIMEOUT
            )
        except FileNotFoundError:
            return {}, {}
        except subprocess.TimeoutExpired:
            raise TmuxUnavailable(
                f"tmux did not answer in {TMUX_TIMEOUT:g}s: is its server hung?"
            ) from None
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace")
            if any(s in err for s in _NO_SERVER):
                return {}, {}
            if pane_ids:
                panes = self.panes()
                alive = {info.pane_id for info in panes.values()}
                return panes, self.capture_many([p for p in pane_ids if p in alive])
            raise TmuxUnavailable(f"tmux list-panes failed: {err.strip()}")
        lines = proc.stdout.decode(errors="replace").splitlines()
        screens = _split_screens(lines, mark)
        found: dict[str, PaneInfo] = {}
        for line in lines:
            if line.startswith(mark + " "):
                break
            info = _pane_info(line)
            if info is not None:
                found.setdefault(info.window_id, info)
        return found, screens

    def capture(self, pane_id: str, join: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", pane_id]
        if join:
            args.insert(2, "-J")
        return "\n".join(self.run(*args))

    def capture_many(self, pane_ids: list[str]) -> dict[str, str]:
        """Screens of several panes in one tmux call (one per pane as a fallback)."""
        if not pane_ids:
            return {}
        # Each screen is preceded by a marker line no screen can contain. The
        # pane id comes from a format: a literal "%4" would be read as one.
        mark = f"==tmux-codex-capture-{os.urandom(8).hex()}=="
        args: list[str] = []
        for pane in pane_ids:
            args += ["display-message", "-p", "-t", pane, f"{mark} #{{pane_id}}", ";"]
            args += ["capture-pane", "-p", "-t", pane, ";"]
        try:
            lines = self.run(*args[:-1])
        except TmuxUnavailable:
            screens = {}
            for pane in pane_ids:
                try:
                    screens[pane] = self.capture(pane)
                except TmuxUnavailable:
                    continue
            return screens
        return _split_screens(lines, mark)

    # -- acting -----------------------------------------------------------

    def send_keys(self, pane_id: str, *keys: str, literal: bool = False) -> None:
        args = ["send-keys", "-t", pane_id]
        if literal:
            args.append("-l")
        # Keys are not formats, but one ending in ";" would end the command.
        self.run(*args, *(_literal(key, formats=False) for key in keys))

    def paste(self, pane_id: str, text: str, buffer: str) -> None:
        """Paste ``text`` into the pane as a bracketed paste, byte-exact."""
        self.run("load-buffer", "-b", buffer, "-", input=text.encode())
        self.run("paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id)

    def set_window_option(self, window_id: str, name: str, value: str) -> None:
        self.run("set-option", "-w", "-t", window_id, name, literal(value, formats=False))

    def kill_window(self, window_id: str) -> None:
        self.run("kill-window", "-t", window_id, check=False)

    def window_of_pane(self, pane_id: str) -> tuple[str, str]:
        """The window id and task option of the window holding ``pane_id``."""
        out = self.run(
            "display-message", "-p", "-t", pane_id, f"#{{window_id}}{_SEP}#{{{TASK_OPTION}}}"
        )
        window, _, task = (out[0] if out else "").partition(_SEP)
        return window, task

    def new_window(
        self,
        session: str,
        name: str,
        command: str,
        cwd: str,
        width: int = 200,
        height: int = 50,
    ) -> tuple[str, str]:
        """A new window running ``command`` in ``session`` (made if missing).

        Returns ``(window_id, pane_id)``.
        """
        import libtmux
        from libtmux import exc as libtmux_exc

        server = libtmux.Server(socket_name=self.socket or None)
        # libtmux hands these to tmux as they are (argv, no quoting of its own).
        # tmux expands formats in the name, directory and session name; not in
        # the command, where only a last ";" needs its escape.
        command = literal(command, formats=False)
        kwargs: dict[str, Any] = {
            "window_name": literal(name),
            "start_directory": literal(cwd),
        }
        window = None
        try:
            existing = server.sessions.get(session_name=session, default=None)
            if existing is None:
                try:
                    made = server.new_session(
                        session_name=literal(session),
                        attach=False,
                        window_command=command,
                        x=width,
                        y=height,
                        **kwargs,
                    )
                    window = made.windows[0]
                except libtmux_exc.LibTmuxException as exc:
                    # Another tmux-codex made it a moment ago.
                    raced = isinstance(exc, libtmux_exc.TmuxSessionExists)
                    if not raced and "duplicate session" not in str(exc):
                        raise
                    existing = server.sessions.get(session_name=session, default=None)
            if window is None:
                if existing is None:
                    raise TmuxUnavailable(
                        f"tmux says session {session!r} exists, but it is not among its sessions"
                    )
                window = existing.new_window(attach=False, window_shell=command, **kwargs)
        except libtmux_exc.LibTmuxException as exc:
            raise TmuxUnavailable(f"tmux could not create the task's window: {exc}") from None
        pane = window.active_pane
        assert pane is not None and window.window_id is not None and pane.pane_id is not None
        return window.window_id, pane.pane_id
