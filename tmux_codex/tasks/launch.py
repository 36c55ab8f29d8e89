"""Starting a task: check the input, build Codex's argv, record, open a window."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tmux_codex.codex.hooks import codex_flags, definitions
from tmux_codex.codex.probe import installed_version
from tmux_codex.codex.sessions import codex_home
from tmux_codex.codex.version import INSTALL_HINT
from tmux_codex.core import git
from tmux_codex.core.config import Config
from tmux_codex.core.errors import BadInput, CodexNotFound, DiskFull, TmuxCodexError, is_disk_full
from tmux_codex.core.models import MODES, Task
from tmux_codex.core.paths import ensure_dir, env_path, logs_dir, prompt_path
from tmux_codex.core.store import NameTaken, Store
from tmux_codex.tasks.slots import admission
from tmux_codex.tmux.server import TASK_OPTION, Tmux, preload

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
    #: Ids of the tasks it runs after (each must end ``done`` first).
    after: tuple[int, ...] = ()
    #: Its git worktree (``repo``, ``path``, ``branch``, ``base``, ``base_commit``), made
    #: by the caller; ``workdir`` is then the worktree's path.
    worktree: dict[str, str] | None = None
    #: Tell Codex to trust the workdir for this task (no trust menu).
    trust: bool = False
    #: Whether it may wait in the queue (that needs the monitor to start it later).
    may_queue: bool = True


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
    program = [sys.executable, "-I", "-m", "tmux_codex.codex.notify_hook", str(home), str(task_id)]
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
        # "-": the prompt comes on stdin (see write_prompt), not in the argv ps shows.
        return [codex, "exec", *config.codex.exec_args, *extra, *own, "-C", workdir, "--", "-"]
    args = list(config.codex.tui_args)
    args += [flag for flag in TUI_REQUIRED if flag not in args]
    return [codex, *args, *extra, *own, "-C", workdir, "--", prompt]


def trust_arg(workdir: str) -> str:
    """The ``-c`` value that trusts ``workdir`` for one Codex run (nothing written to disk)."""
    # JSON's escapes are TOML's, but for DEL, which TOML wants escaped and JSON does not.
    key = json.dumps(workdir, ensure_ascii=False).replace("\x7f", "\\u007f")
    return "projects={" + key + '={trust_level="trusted"}}'


def default_name(prompt: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", re.sub(r"\[scenario:[^\]]*\]", "", prompt))
    slug = "-".join(words[:4]).lower()[:24].strip("-")
    return slug or "task"


def git_head(workdir: str) -> str | None:
    """The commit the workdir's ``HEAD`` is at; None outside git or before a first commit."""
    try:
        return git.resolve(workdir, "HEAD")
    except Exception:  # no git, not a repository: no start commit, nothing else
        return None


#: Paths tmux-codex's own programs (the hooks) read; made absolute for the task, whose
#: programs run in its workdir, where the model writes (a config of its own there
#: must not become the allowlist's).
_PATH_VARS = ("TMUX_CODEX_CONFIG", "TMUX_CODEX_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")


def task_environment() -> dict[str, str]:
    """The environment a task runs with: the one ``start`` was called in."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV_SKIP}
    for var in _PATH_VARS:
        if env.get(var):
            env[var] = os.path.abspath(os.path.expanduser(env[var]))
    return env


def runs_inside(workdir: str) -> str | None:
    """Where tmux-codex itself lives, when that is inside ``workdir``; else None.

    Its hooks run this Python and package outside Codex's sandbox: a model that
    can write there (a checkout with an editable install, a virtualenv in the
    project) could change what the next hook does.
    """
    root = Path(workdir).resolve()
    for place in (Path(sys.prefix), Path(__file__).resolve().parent):
        try:
            place.resolve().relative_to(root)
        except ValueError:
            continue
        return str(place)
    return None


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


def write_prompt(home: Path, task_id: int, prompt: str) -> Path:
    """Leave an exec task's prompt for its shim (0600, read once, then removed)."""
    path = prompt_path(home, task_id)
    ensure_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(prompt)
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
    preload()  # not while the store is locked
    home = store.home
    codex_args = req.codex_args + (("-c", trust_arg(workdir)) if req.trust else ())
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
        "after_ids": json.dumps(list(req.after)),
        "worktree": json.dumps(req.worktree) if req.worktree else None,
    }
    task_id: int | None = None
    window_id: str | None = None
    made_log: Path | None = None
    try:
        # One transaction: the task, its event and its window become visible
        # together, once its window runs; any failure undoes it all.
        with store.transaction():
            waits = admission(store, config.fleet.max_parallel, req.after)
            if waits and not req.may_queue:
                raise BadInput(
                    f"the task would wait in the queue ({_WAITS[waits]}), and only the "
                    "monitor starts queued tasks: leave out --no-monitor"
                )
            if waits:
                fields.update(state="queued", reason=waits)
            try:
                task = store.add_task(fields, req.name, default_name(req.prompt))
            except NameTaken:
                raise BadInput(f"a task named {req.name!r} exists; choose another --name") from None
            task_id = task.id
            hook_flags = tuple(codex_flags(definitions(home, task.id)))
            argv = codex_argv(
                codex,
                mode,
                config,
                codex_args,
                notify_arg(home, task.id),
                workdir,
                req.prompt,
                hook_flags,
            )
            store.update(task.id, argv=argv)
            if mode == "exec":
                write_prompt(home, task.id, req.prompt)
            log = Path(task.log_path)
            # A log that is there already (a store made anew) is appended to, never removed.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                made_log = log
            if waits:
                write_environment(home, task.id)  # it runs with the environment of 'start'
                started = store.get(task.id) or task
            else:
                started = open_window(store, store.get(task.id) or task)
                window_id = started.window_id
        return started
    except BaseException as exc:
        # The transaction is rolled back; the window (whose shim waits for the
        # task to be committed) and the files made for it go too.
        if window_id:
            with contextlib.suppress(Exception):
                tmux.kill_window(window_id)
        if task_id is not None:
            with contextlib.suppress(OSError):
                env_path(home, task_id).unlink(missing_ok=True)
                prompt_path(home, task_id).unlink(missing_ok=True)
        if made_log is not None:
            with contextlib.suppress(OSError):
                made_log.unlink(missing_ok=True)
        if isinstance(exc, (TmuxCodexError, KeyboardInterrupt)):
            raise
        if is_disk_full(exc):
            raise DiskFull(home, exc) from None
        raise TmuxCodexError(f"could not start the task: {exc}") from exc


_WAITS = {"slot": "[fleet] max_parallel tasks run", "after": "it runs after other tasks"}


def open_window(store: Store, task: Task, environment: bool = True) -> Task:
    """Run the task's shim (which runs its argv) in a new window; the task as recorded.

    ``environment``: write the environment of this process for it (a queued
    task's was written when it was queued). On failure the window and the
    environment file are gone again.
    """
    home = store.home
    tmux = Tmux(task.tmux_socket)
    window_id = ""
    try:
        if environment:
            write_environment(home, task.id, task.codex_home if task.attempt > 1 else None)
        # -I: the window starts in the workdir, which must not be on sys.path.
        shim = shlex.join(
            [sys.executable, "-I", "-m", "tmux_codex.tasks.shim", str(home), str(task.id)]
        )
        window_id, pane_id = tmux.new_window(task.tmux_session, task.name, shim, task.workdir)
        # Before the window is on record: only a window carrying this id is the task's.
        tmux.set_window_option(window_id, TASK_OPTION, str(task.id))
        info = tmux.panes().get(window_id)
        store.update(
            task.id,
            window_id=window_id,
            pane_id=pane_id,
            width=info.width if info else 0,
            height=info.height if info else 0,
        )
    except BaseException:
        if window_id:
            with contextlib.suppress(Exception):  # the first error is the one to tell
                tmux.kill_window(window_id)
        env_path(home, task.id).unlink(missing_ok=True)
        prompt_path(home, task.id).unlink(missing_ok=True)
        raise
    started = store.get(task.id)
    assert started is not None
    return started
