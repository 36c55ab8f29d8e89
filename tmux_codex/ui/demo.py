"""``tmux-codex demo``: a live fleet of real Codex tasks, offline, in a scratch directory.

Everything runs on a tmux server of its own (``tmux -L tmux-codex-demo``):
the project's fake model server (``python -m tmux_codex.sim``) in a window,
and four tasks of the real Codex CLI talking to it — one waits for approval,
one works and finishes, one stalls, one fails — watched by a monitor of the
demo's own state directory. Nothing touches the user's tasks, tmux server or
Codex login. ``demo --stop`` removes it all.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket as socketlib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import tmux_codex
from tmux_codex.codex.version import CODEX_VERSION, INSTALL_HINT
from tmux_codex.core.errors import CodexNotFound, NotPossible
from tmux_codex.core.paths import ensure_dir
from tmux_codex.core.store import Store
from tmux_codex.tasks.procs import shim_alive

#: The demo's tmux server (``tmux -L``).
DEMO_SOCKET = "tmux-codex-demo"
#: Where the fake model server's window lives on it.
MODEL_SESSION = "model"

#: The fleet: (name, mode, prompt). Each prompt picks a scenario of the fake model.
FLEET = (
    ("needs-approval", "tui", "[scenario:approval-exec] Write approval-exec.txt for me"),
    ("works-then-done", "exec", "[scenario:slow-exec] Run the slow job and report back"),
    ("stalls", "tui", "[scenario:hang-headers] Ask a model that never answers"),
    ("fails", "exec", "[scenario:http-400] Send a request the model rejects"),
)


@dataclass(frozen=True)
class Demo:
    root: Path  # the scratch directory
    socket: str
    env: dict[str, str]  # what to export to drive it with tmux-codex

    def exports(self) -> str:
        keys = (
            "TMUX_CODEX_HOME",
            "TMUX_CODEX_SOCKET",
            "TMUX_CODEX_CONFIG",
            "TMUX_CODEX_CODEX",
            "CODEX_HOME",
            "MOCK_API_KEY",
        )
        line = "export " + " ".join(f"{k}={shlex.quote(self.env[k])}" for k in keys)
        folder = command_folder()
        if folder is not None:  # e.g. a checkout's .venv/bin: "tmux-codex" works as printed
            line += f' PATH={shlex.quote(folder)}:"$PATH"'
        return line


def command_folder() -> str | None:
    """The folder of the ``tmux-codex`` that runs, when ``tmux-codex`` on PATH is not it."""
    script = Path(sys.executable).with_name("tmux-codex")
    if not script.exists():
        return None
    found = shutil.which("tmux-codex")
    if found and Path(found).resolve() == script.resolve():
        return None
    return str(script.parent)


#: A checkout of tmux-codex (where ``scripts/setup`` installs the pinned Codex):
#: the folder that holds the package.
CHECKOUT = Path(tmux_codex.__file__).resolve().parent.parent


def default_root() -> Path:
    return Path(tempfile.gettempdir()) / f"tmux-codex-demo-{os.getuid()}"


def find_codex() -> str:
    """The codex to run: ``TMUX_CODEX_CODEX``, ``codex`` on PATH, or a checkout's ``.tools``."""
    candidates = [os.environ.get("TMUX_CODEX_CODEX", ""), "codex"]
    candidates.append(str(CHECKOUT / ".tools/codex/node_modules/.bin/codex"))
    for candidate in candidates:
        found = shutil.which(candidate) if candidate else None
        if found:
            return os.path.abspath(found)
    raise CodexNotFound(
        f"the demo runs the real Codex CLI {CODEX_VERSION}, which is not installed: "
        f"'{INSTALL_HINT}' (in a checkout of tmux-codex: 'scripts/install-codex'), or set "
        "TMUX_CODEX_CODEX to its path"
    )


def _free_port() -> int:
    with socketlib.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:  # no tmux: nothing of it runs
        return subprocess.CompletedProcess(["tmux", *args], 1, "", str(exc))


def running(socket: str = DEMO_SOCKET) -> bool:
    return _tmux(socket, "has-session", "-t", MODEL_SESSION).returncode == 0


def stop(root: Path | None = None, socket: str = DEMO_SOCKET) -> bool:
    """End the demo: its monitor, its tmux server, its scratch directory. Whether one ran."""
    from tmux_codex.monitor.daemon import stop as stop_monitor

    root = root or default_root()
    found = root.exists() or running(socket)
    shims: list[int] = []
    if (root / "home").exists():
        with contextlib.suppress(Exception):
            stop_monitor(root / "home")
        with contextlib.suppress(Exception), Store(root / "home") as store:
            shims = [t.shim_pid for t in store.tasks() if t.shim_pid]
    _tmux(socket, "kill-server")
    # The shims record how their Codex ended as tmux goes: let them, then remove it all.
    deadline = time.monotonic() + 10
    while any(shim_alive(pid) for pid in shims) and time.monotonic() < deadline:
        time.sleep(0.05)
    # A Codex may still be writing its state as it goes (the npm launcher exits before
    # the program it runs): remove what it leaves until nothing is left, a while at most.
    deadline = time.monotonic() + 10
    while True:
        shutil.rmtree(root, ignore_errors=True)
        if not root.exists() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return found


def start(
    root: Path | None = None,
    socket: str = DEMO_SOCKET,
    stall_after: float = 20.0,
) -> Demo:
    """Start the demo fleet; returns where it lives and how to drive it."""
    from tmux_codex.tmux.server import Tmux

    codex = find_codex()
    Tmux(socket).check_version()
    root = root or default_root()
    if running(socket):
        raise NotPossible(f"a demo runs already ({root}); 'tmux-codex demo --stop' ends it first")
    if root.exists():
        # A demo runs only while its tmux server does: this is what one left behind (or
        # what a tmux-codex command with the demo's variables still exported made).
        stop(root, socket)
    ensure_dir(root)
    try:
        return _start(root, socket, stall_after, codex)
    except BaseException:
        stop(root, socket)  # nothing half-made is left behind
        raise


def _start(root: Path, socket: str, stall_after: float, codex: str) -> Demo:
    from tmux_codex.core.config import load
    from tmux_codex.monitor.daemon import spawn
    from tmux_codex.sim.home import API_KEY_ENV, write_codex_home
    from tmux_codex.tasks.launch import StartRequest
    from tmux_codex.tasks.launch import start as start_task
    from tmux_codex.tmux.server import Tmux

    work = ensure_dir(root / "work")
    workdirs = [ensure_dir(work / name) for name, _mode, _prompt in FLEET]
    port = _free_port()
    write_codex_home(root / "codex-home", f"http://127.0.0.1:{port}/v1", trusted=workdirs)
    config = root / "tmux-codex.toml"
    config.write_text(
        f'[monitor]\nstall_after = "{stall_after:g}s"\npoke_after = "0"\n', encoding="utf-8"
    )
    env = {
        "TMUX_CODEX_HOME": str(root / "home"),
        "TMUX_CODEX_SOCKET": socket,
        "TMUX_CODEX_CONFIG": str(config),
        "TMUX_CODEX_CODEX": codex,
        "CODEX_HOME": str(root / "codex-home"),
        API_KEY_ENV: "demo",
    }
    os.environ.update(env)  # the tasks and the monitor get what start runs in
    tmux = Tmux(socket)
    model = shlex.join(
        [sys.executable, "-m", "tmux_codex.sim", str(port), "--log", str(root / "model.jsonl")]
    )
    tmux.new_window(MODEL_SESSION, "fake-model", model, str(root))
    for key, value in env.items():  # for key bindings and the status line
        _tmux(socket, "set-environment", "-g", key, value)
    from tmux_codex.tmux.bindings import install

    install(socket)
    with Store(root / "home") as store:
        settings = load(config)
        spawn(store.home)
        for (name, mode, prompt), workdir in zip(FLEET, workdirs, strict=True):
            request = StartRequest(prompt=prompt, workdir=str(workdir), name=name, mode=mode)
            start_task(store, settings, request, socket)
    return Demo(root=root, socket=socket, env=env)


def instructions(demo: Demo) -> str:
    """What to do next, for the person who ran ``demo``."""
    names = ", ".join(name for name, _m, _p in FLEET)
    return f"""\
A demo fleet of {len(FLEET)} real Codex tasks runs offline on its own tmux server
({names}), talking to tmux-codex's scripted fake model. Within a minute:
needs-approval waits for you, works-then-done finishes, stalls stalls, fails fails.

Watch it:
  tmux -L {demo.socket} attach -t codex      # window names carry the states (! waiting, ~ working)
      prefix w        pick a window           prefix C   the fleet (popup)
      prefix Y / N    approve / deny here     prefix J   next task that needs you

Drive it from this shell:
  {demo.exports()}
  tmux-codex list                      # states
  tmux-codex top                       # the fleet, live (q quits)
  tmux-codex approve needs-approval    # answer the prompt
  tmux-codex events --follow           # every change as it happens

End it:
  tmux-codex demo --stop               # the tasks, the tmux server and {demo.root}
"""
