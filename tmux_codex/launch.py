"""Starting a task: check the input, build Codex's argv, record, open a window."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tmux_codex.codex import INSTALL_HINT, codex_home, installed_version
from tmux_codex.config import Config
from tmux_codex.errors import BadInput, CodexNotFound, TmuxCodexError
from tmux_codex.hooks import codex_flags, definitions
from tmux_codex.models import MODES, Task
from tmux_codex.paths import ensure_dir, env_path, logs_dir
from tmux_codex.store import NameTaken, Store
from tmux_codex.tmux import TASK_OPTION, Tmux

#: Linux refuses a single argument longer than this (MAX_ARG_STRLEN).
MAX_PROMPT_BYTES = 131_072 - 1
#: The TUI needs these (see CODEX.md): keep the transcript in tmux's scrollback,
#: and run the agent inside the window, not in a shared daemon.
TUI_REQUIRED = ("--no-alt-screen", "--no-daemon")
#: Not passed on to a task: they describe the terminal the CLI runs in.
_ENV_SKIP = frozenset(
    {
        "TMUX",
        "TMUX_PANE",
        "TERM",
        "TERM_PROGRAM",
        "TERM_PROGRAM_VERSION",
        "COLUMNS",
        "LINES",
        "SHLVL",
        "PWD",
        "OLDPWD",
        "_",
    }
)


@dataclass(frozen=True)
class StartRequest:
    prompt: str
    workdir: str = "."
    name: str | None = None
    mode: str | None = None
    codex_args: tuple[str, ...] = ()


def resolve_codex(config: Config) -> str:
    """The codex command as an absolute path; ``CodexNotFound`` says how to install it."""
    command = os.environ.get("TMUX_CODEX_CODEX") or config.codex.command
    found = shutil.which(command)
    if found is None:
        raise CodexNotFound(
            f"codex command {command!r} not found: install the Codex CLI with "
            f"'{INSTALL_HINT}', or set TMUX_CODEX_CODEX / [codex] command to its path"
        )
    return os.path.abspath(found)


def notify_arg(home: Path, task_id: int) -> str:
    """The ``-c notify=[...]`` value that reports each finished turn to tmux-codex."""
    program = [sys.executable, "-I", "-m", "tmux_codex.notify_hook", str(home), str(task_id)]
    return "notify=[" + ", ".join(json.dumps(p) for p in program) + "]"


def codex_argv(
    codex: str,
    mode: str,
    config: Config,
    extra: tuple[str, ...],
    notify: str,
    workdir: str,
    prompt: str,
    hook_flags: tuple[str, ...] = (),
) -> list[str]:
    """Codex's argv for a task; the prompt is one argument after ``--``.

    ``hook_flags`` define tmux-codex's hooks and trust them (``hooks.codex_flags``).
    """
    own = ["-c", notify, *hook_flags]
    if mode == "exec":
        return [codex, "exec", *config.codex.exec_args, *extra, *own, "-C", workdir, "--", prompt]
    args = list(config.codex.tui_args)
    args += [flag for flag in TUI_REQUIRED if flag not in args]
    return [codex, *args, *extra, *own, "-C", workdir, "--", prompt]


def default_name(prompt: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", re.sub(r"\[scenario:[^\]]*\]", "", prompt))
    slug = "-".join(words[:4]).lower()[:24].strip("-")
    return slug or "task"


def git_head(workdir: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", workdir, "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = out.stdout.strip()
    return head if out.returncode == 0 and head else None


def task_environment() -> dict[str, str]:
    """The environment a task runs with: the one ``start`` was called in."""
    return {k: v for k, v in os.environ.items() if k not in _ENV_SKIP}


def write_environment(home: Path, task_id: int, codex_home: str | None = None) -> Path:
    """Leave the task's environment for its shim in a private file.

    Not on tmux's command line (``ps`` would show API keys to every user) and
    not in the store (secrets do not belong in a database that lives on).
    ``codex_home`` (the task's, on a resume) is where its Codex session lives.
    """
    path = env_path(home, task_id)
    ensure_dir(path.parent)
    env = task_environment()
    if codex_home:
        env["CODEX_HOME"] = codex_home
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(env, fh)
    return path


def validate(req: StartRequest, config: Config) -> tuple[str, str]:
    """The absolute workdir and the mode, or ``BadInput``."""
    if not req.prompt.strip():
        raise BadInput("the prompt is empty: give a PROMPT argument or --prompt-file")
    if len(req.prompt.encode()) > MAX_PROMPT_BYTES:
        raise BadInput(f"the prompt is longer than {MAX_PROMPT_BYTES} bytes")
    if "\0" in req.prompt:
        raise BadInput("the prompt contains a NUL byte, which no program can be given")
    if req.prompt == "-":
        raise BadInput("a prompt of '-' makes codex read standard input: use --prompt-file -")
    if req.name is not None and re.search(r"[\x00-\x1f\x7f-\x9f]", req.name):
        raise BadInput(
            f"invalid task name {req.name!r}: it holds a control character "
            "(a newline, tab, escape, ...); choose a name without"
        )
    if req.name is not None and (
        not req.name.strip()
        or req.name.isdigit()
        or req.name[0] in "@%$-"
        or any(c in req.name for c in ":.")
        or any(c.isspace() and c != " " for c in req.name)
    ):
        raise BadInput(
            f"invalid task name {req.name!r}: not empty, not all digits (ids are), not "
            "starting with @ % $ -, and without : . or whitespace other than spaces"
        )
    workdir = Path(req.workdir).expanduser()
    if not workdir.is_dir():
        raise BadInput(f"workdir {req.workdir!r} does not exist or is not a directory")
    mode = req.mode or config.codex.mode
    if mode not in MODES:
        raise BadInput(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return str(workdir.resolve()), mode


def start(store: Store, config: Config, req: StartRequest, socket: str) -> Task:
    """Start a task; on any failure nothing is left behind (no row, window or log)."""
    workdir, mode = validate(req, config)
    codex = resolve_codex(config)
    tmux = Tmux(socket)
    tmux.check_version()
    home = store.home
    fields: dict[str, object] = {
        "state": "starting",
        "mode": mode,
        "workdir": workdir,
        "argv": [],
        "log_path": str(logs_dir(home) / "{id}.log"),
        "start_commit": git_head(workdir),
        "tmux_socket": socket,
        "tmux_session": config.tmux.session,
        "codex_home": str(codex_home(os.environ)),
        "prompt": req.prompt,
        # Which screen patterns read it: asked once per Codex binary, then cached.
        "codex_version": installed_version(codex, home),
    }
    try:
        task = store.add_task(fields, req.name, default_name(req.prompt))
    except NameTaken:
        raise BadInput(f"a task named {req.name!r} exists; choose another --name") from None
    log = Path(task.log_path)
    try:
        hook_flags = tuple(codex_flags(definitions(home, task.id)))
        argv = codex_argv(
            codex,
            mode,
            config,
            req.codex_args,
            notify_arg(home, task.id),
            workdir,
            req.prompt,
            hook_flags,
        )
        store.update(task.id, argv=argv)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        return open_window(store, task)
    except BaseException as exc:
        store.delete(task.id)
        log.unlink(missing_ok=True)
        if isinstance(exc, (TmuxCodexError, KeyboardInterrupt)):
            raise
        raise TmuxCodexError(f"could not start the task: {exc}") from exc


def open_window(store: Store, task: Task) -> Task:
    """Run the task's shim (which runs its argv) in a new window; the task as recorded.

    On failure the window and the environment file are gone again.
    """
    home = store.home
    tmux = Tmux(task.tmux_socket)
    window_id = ""
    try:
        write_environment(home, task.id, task.codex_home if task.attempt > 1 else None)
        # -I: the window starts in the workdir, which must not be on sys.path.
        shim = shlex.join([sys.executable, "-I", "-m", "tmux_codex.shim", str(home), str(task.id)])
        window_id, pane_id = tmux.new_window(task.tmux_session, task.name, shim, task.workdir)
        # Before the window is on record: only a window carrying this id is the task's.
        tmux.set_window_option(window_id, TASK_OPTION, str(task.id))
    except BaseException:
        if window_id:
            tmux.kill_window(window_id)
        env_path(home, task.id).unlink(missing_ok=True)
        raise
    info = tmux.panes().get(window_id)
    store.update(
        task.id,
        window_id=window_id,
        pane_id=pane_id,
        width=info.width if info else 0,
        height=info.height if info else 0,
    )
    started = store.get(task.id)
    assert started is not None
    return started
