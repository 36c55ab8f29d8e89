"""The ``tmux-codex`` command line: parse, call the library, render.

Kept light: read commands import neither libtmux nor watchdog nor pyte unless
they need them, so ``list`` and ``show`` start fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tmux_codex import __version__
from tmux_codex.core.errors import BadInput, DiskFull, NotPossible, TmuxCodexError, is_disk_full
from tmux_codex.core.models import STATES, Task, age
from tmux_codex.core.text import printable

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context

F = TypeVar("F", bound=Callable[..., Any])

#: ``log --follow``: how long to wait for the last bytes of a run that has no end mark.
FOLLOW_END_GRACE = 2.0


def context() -> AbstractContextManager[Context]:
    """The store, config and tmux socket every command works with."""
    from tmux_codex.tasks.context import open_context

    return open_context()


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=None))


def _table(tasks: list[Task]) -> str:
    rows = [("ID", "NAME", "STATE", "MODE", "AGE", "WORKDIR")]
    for t in tasks:
        name, workdir = printable(t.name, keep=""), printable(t.workdir, keep="")
        rows.append((str(t.id), name, t.label, t.mode, age(t.created_at), workdir))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]
        for row in rows
    )


def _complete_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Task ids and names from the store, for shell completion (no tmux calls)."""
    from click.shell_completion import CompletionItem

    from tmux_codex.core.paths import db_path, state_home

    if not db_path(state_home()).exists():
        return []
    try:
        from tmux_codex.core.store import Store

        with Store(state_home()) as store:
            tasks = store.tasks()
    except Exception:  # completion must never print an error into the shell
        return []
    items = []
    for task in reversed(tasks):
        label = f"{task.state}: {task.name}"
        for value in (str(task.id), task.name):
            if value.startswith(incomplete):
                items.append(CompletionItem(value, help=label))
    return items


def _complete_states(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """State names, after those already given (``waiting,id`` → ``waiting,idle``)."""
    from click.shell_completion import CompletionItem

    done, _, last = incomplete.rpartition(",")
    given = set(done.split(",")) if done else set()
    head = done + "," if done else ""
    return [
        CompletionItem(head + state)
        for state in STATES
        if state.startswith(last) and state not in given
    ]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tmux-codex")
def cli() -> None:
    """Supervise fleets of OpenAI Codex CLI agents in tmux.

    TASK is a task id, a name, or a tmux window id (@7); inside tmux it may
    be left out to mean the current window's task.
    """


# -- starting -------------------------------------------------------------------


@cli.command()
@click.argument("prompt", required=False)
@click.option("-C", "--cd", "workdir", default=".", help="Working directory (default: here).")
@click.option("-n", "--name", help="Task name (also its window's name).")
@click.option("--mode", type=click.Choice(["exec", "tui"]), help="codex exec, or the TUI.")
@click.option(
    "--prompt-file",
    type=click.File("r", encoding="utf-8"),
    help="Read the prompt from FILE ('-' for stdin).",
)
@click.option("--codex-arg", "codex_args", multiple=True, help="Extra argument for codex.")
@click.option("--no-monitor", is_flag=True, help="Do not start the monitor.")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
def start(
    prompt: str | None,
    workdir: str,
    name: str | None,
    mode: str | None,
    prompt_file: Any,
    codex_args: tuple[str, ...],
    no_monitor: bool,
    as_json: bool,
) -> None:
    """Start Codex on PROMPT in a new tmux window; prints the task id."""
    from tmux_codex.tasks.launch import StartRequest, runs_inside
    from tmux_codex.tasks.launch import start as start_task

    if prompt is not None and prompt_file is not None:
        raise BadInput("give the prompt as an argument or with --prompt-file, not both")
    try:
        text = prompt_file.read() if prompt_file is not None else (prompt or "")
    except UnicodeDecodeError as exc:
        raise BadInput(f"the prompt file is not UTF-8 text: {exc}") from None
    with context() as ctx:
        req = StartRequest(
            prompt=text, workdir=workdir, name=name, mode=mode, codex_args=codex_args
        )
        task = start_task(ctx.store, ctx.config, req, ctx.socket)
        inside = runs_inside(task.workdir)
        if inside is not None:
            click.echo(
                f"tmux-codex: warning: tmux-codex itself ({inside}) is inside the task's workdir, "
                "where Codex can write: it could change what tmux-codex's hooks run",
                err=True,
            )
        if not no_monitor:
            from tmux_codex.monitor.daemon import spawn

            if spawn(ctx.store.home) is None:
                click.echo(
                    "tmux-codex: warning: the monitor did not start; see "
                    f"{ctx.store.home / 'monitor.log'} ('tmux-codex monitor' runs it in the "
                    "foreground)",
                    err=True,
                )
    if as_json:
        _print_json(task.to_dict())
    else:
        click.echo(task.id)


# -- reading --------------------------------------------------------------------


@cli.command("list")
@click.option("-a", "--all", "include_all", is_flag=True, help="Include ended tasks.")
@click.option("--state", help="Only tasks in these states (comma-separated).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_cmd(include_all: bool, state: str | None, as_json: bool) -> None:
    """List tasks and their states (live ones unless --all)."""
    from tmux_codex.tasks.queries import list_tasks

    if state is not None:
        unknown = [s for s in state.split(",") if s not in STATES]
        if unknown:
            raise BadInput(f"unknown state {unknown[0]!r}; states: {', '.join(STATES)}")
    with context() as ctx:
        tasks = list_tasks(ctx, include_final=include_all, state=state)
    if as_json:
        _print_json([t.to_dict() for t in tasks])
    elif tasks:
        click.echo(_table(tasks))
    else:
        click.echo("no tasks" if include_all else "no live tasks (see --all)")


cli.add_command(list_cmd, "ls")


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def show(task: str | None, as_json: bool) -> None:
    """Show one task in detail."""
    from tmux_codex.tasks.queries import show as show_task

    with context() as ctx:
        found = show_task(ctx, task)
    if as_json:
        _print_json(found.to_dict())
        return
    for key, value in found.to_dict().items():
        if value is not None:
            text = printable(str(value)).replace("\n", "\n" + " " * 19)
            click.echo(f"{key + ':':18} {text}")


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
@click.option("--limit", type=click.IntRange(min=1), help="Only the last CHARS characters.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing what the task prints.")
@click.option("--raw", is_flag=True, help="The raw bytes, escape sequences and all.")
def log(task: str | None, limit: int | None, follow: bool, raw: bool) -> None:
    """Print a task's log as readable text (or raw)."""
    from tmux_codex.tasks.context import resolve
    from tmux_codex.tasks.queries import read_log, write_log

    with context() as ctx:
        found = resolve(ctx, task)
        try:
            if limit:
                out = read_log(found, raw=raw, limit=limit)
                if isinstance(out, bytes):
                    sys.stdout.buffer.write(out)
                    sys.stdout.buffer.flush()
                else:
                    click.echo(out)
            elif raw:
                write_log(found, click.echo, sys.stdout.buffer.write)
                sys.stdout.buffer.flush()
            else:
                _echo_stream(lambda write: write_log(found, write))
        except OSError as exc:
            raise NotPossible(
                f"cannot read the log of task {found.id} ({printable(found.name, keep='')}): "
                f"{exc.strerror or exc} ({found.log_path})"
            ) from None
        if follow:
            _follow(ctx, found, raw)


def _echo_stream(produce: Callable[[Callable[[str], object]], None]) -> None:
    """Echo text that ``produce`` writes in pieces, a few at a time, then a newline."""
    pending: list[str] = []
    size = [0]

    def write(piece: str) -> None:
        pending.append(piece)
        size[0] += len(piece)
        if size[0] >= 65536:
            click.echo("".join(pending), nl=False)
            pending.clear()
            size[0] = 0

    produce(write)
    click.echo("".join(pending))


def _follow(ctx: Any, task: Task, raw: bool) -> None:
    import time

    from tmux_codex.codex.logtext import run_ended, strip_escapes

    path = task.log_path
    offset = os.path.getsize(path) if os.path.exists(path) else 0
    last_read = False  # the run's end mark is in: one more read, then stop
    give_up: float | None = None
    while True:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if size > offset:
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read(size - offset)
            offset = size
            if raw:
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
            else:
                click.echo(strip_escapes(chunk), nl=False)
            continue
        if last_read:
            return
        current = ctx.store.get(task.id)
        if current is None:
            return
        if not current.final:
            give_up = None
            time.sleep(0.2)
            continue
        # The shim records the end as Codex exits, while tmux's pipe may still be
        # bringing the last bytes: they are all in once the run's end mark is.
        # A run without one (its pane went away) gets a short grace.
        last_read = run_ended(path, current.attempt)
        now = time.monotonic()
        if give_up is None:
            give_up = now + FOLLOW_END_GRACE
        elif now >= give_up:
            last_read = True
        time.sleep(0 if last_read else 0.05)


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
def screen(task: str | None) -> None:
    """Print the task's pane as it is now."""
    from tmux_codex.tasks.queries import screen as screen_text

    with context() as ctx:
        click.echo(screen_text(ctx, task))


@cli.command("wait")
@click.argument("task", required=False, shell_complete=_complete_task)
@click.option(
    "--for",
    "for_states",
    default="waiting,idle,done,failed,killed,lost",
    show_default=True,
    help="States to wait for (comma-separated).",
    shell_complete=_complete_states,
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds to wait at most.",
)
def wait_cmd(task: str | None, for_states: str, timeout: float) -> None:
    """Wait until a task is in one of the given states (exit 1 on timeout)."""
    from tmux_codex.core.errors import NotPossible
    from tmux_codex.tasks.queries import wait

    states = frozenset(s.strip() for s in for_states.split(",") if s.strip())
    unknown = sorted(states - set(STATES))
    if unknown or not states:
        raise BadInput(
            f"unknown state {unknown[0]!r}; states: {', '.join(STATES)}"
            if unknown
            else "--for needs at least one state"
        )
    with context() as ctx:
        found, reached = wait(ctx, task, states, timeout)
    if not reached:
        raise NotPossible(
            f"task {found.id} ({found.name}) is {found.label}, not "
            f"{' or '.join(sorted(states))}" + ("" if found.final else f", after {timeout:g}s")
        )
    click.echo(found.label)


@cli.command()
@click.option("--task", "task_ref", help="Only this task's events.", shell_complete=_complete_task)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def events(task_ref: str | None, follow: bool, as_json: bool) -> None:
    """Print state changes (and who made them)."""
    from tmux_codex.tasks.context import resolve
    from tmux_codex.tasks.queries import events as task_events

    with context() as ctx:
        task_id = resolve(ctx, task_ref).id if task_ref else None
        for event in task_events(ctx, task_id, follow=follow):
            if as_json:
                _print_json(event.to_dict())
            else:
                detail = printable((event.detail or "").split("\n")[0], keep="")
                click.echo(
                    f"{event.at}  {event.task:>4}  {event.from_state or '-'} -> "
                    f"{event.label}  by {event.by}  {detail}".rstrip()
                )
            if follow:
                sys.stdout.flush()


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report(task: str | None, as_json: bool) -> None:
    """What a task did: files changed, tests run, tokens, its last message."""
    from tmux_codex.report.task import report as task_report
    from tmux_codex.report.text import render_text

    with context() as ctx:
        found = task_report(ctx, task)
    if as_json:
        _print_json(found.to_dict())
    else:
        click.echo(render_text(found))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "tmux", "json"]),
    default="text",
    show_default=True,
    help="text for people, tmux for status-right, json.",
)
def status(fmt: str) -> None:
    """Counts of tasks per state, from the store (fast; for status lines)."""
    from tmux_codex.tasks.queries import status_counts, status_line

    with context() as ctx:
        counts = status_counts(ctx)
    if fmt == "json":
        _print_json(counts)
    elif fmt == "tmux":
        click.echo(status_line(counts))
    else:
        click.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no tasks")


# -- acting ---------------------------------------------------------------------


@cli.command()
@click.argument("task", shell_complete=_complete_task)
@click.argument("text")
@click.option("--no-enter", is_flag=True, help="Do not press Enter after the text.")
def send(task: str, text: str, no_enter: bool) -> None:
    """Send TEXT to a task: typed at a prompt, submitted into the composer otherwise.

    '' sends just Enter.
    """
    from tmux_codex.tasks.act import send as send_text

    with context() as ctx:
        sent = send_text(ctx, task, text, enter=not no_enter)
        _say_done(ctx, sent)


@cli.command()
@click.argument("task", shell_complete=_complete_task)
@click.argument("key_names", nargs=-1, required=True, metavar="KEY...")
def keys(task: str, key_names: tuple[str, ...]) -> None:
    """Send tmux key names (Enter, Escape, C-c, y, ...) to a task."""
    from tmux_codex.tasks.act import keys as send_keys

    with context() as ctx:
        send_keys(ctx, task, list(key_names))


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
@click.option("--always", is_flag=True, help="Approve and don't ask again (p / a).")
def approve(task: str | None, always: bool) -> None:
    """Approve the prompt a task waits at (command, edit, trust, question).

    Acts only if the prompt is still the one last seen, and checks it went away.
    """
    from tmux_codex.tasks.act import answer

    with context() as ctx:
        done = answer(ctx, task, "always" if always else "yes")
    click.echo(done.label)


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
def deny(task: str | None) -> None:
    """Refuse the prompt a task waits at (Escape); Codex asks what to do instead."""
    from tmux_codex.tasks.act import answer

    with context() as ctx:
        done = answer(ctx, task, "no")
    click.echo(done.label)


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
def poke(task: str | None) -> None:
    """Press Enter once in a task's window (recorded as an event)."""
    from tmux_codex.tasks.act import poke as poke_task

    with context() as ctx:
        poked = poke_task(ctx, task)
        _say_done(ctx, poked)


def _say_done(ctx: Any, task: Task) -> None:
    """What a command just did to a task: the event it recorded (``sent 'y'``, …)."""
    done = ctx.store.events(task.id)
    what = (done[-1].detail or "").split("\n")[0] if done else "done"
    click.echo(f"task {task.id} ({printable(task.name, keep='')}): {printable(what, keep='')}")


@cli.command()
@click.argument("task", shell_complete=_complete_task)
@click.argument("prompt", required=False)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for Codex to show it took the conversation up (0: do not check).",
)
def resume(task: str, prompt: str | None, timeout: float) -> None:
    """Resume an ended task's Codex session in a new window, with PROMPT if given.

    Its old window is closed; the log goes on after a separator line.
    """
    from tmux_codex.tasks.resume import resume as resume_task

    with context() as ctx:
        resumed = resume_task(ctx, task, prompt, verify=timeout)
    click.echo(
        f"task {resumed.id} ({printable(resumed.name, keep='')}) resumed: attempt {resumed.attempt}"
    )


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
def kill(task: str | None) -> None:
    """End a task's Codex (state killed); its window keeps the last screen."""
    from tmux_codex.tasks.act import kill as kill_task

    with context() as ctx:
        killed = kill_task(ctx, task)
    click.echo(f"task {killed.id} ({printable(killed.name, keep='')}) {killed.state}")


@cli.command()
@click.argument("task", required=False, shell_complete=_complete_task)
@click.option("--next", "next_", is_flag=True, help="The next task that needs you.")
@click.option("--client", help="The tmux client to switch (key bindings pass #{client_name}).")
def attach(task: str | None, next_: bool, client: str | None) -> None:
    """Show a task's window: switch to it inside tmux, attach outside.

    --next picks the next task that waits, stalled or failed (after the
    current window's task).
    """
    import subprocess

    from tmux_codex.core.errors import NotPossible
    from tmux_codex.tasks.queries import attach_argv, next_needing

    with context() as ctx:
        if next_:
            if task is not None:
                raise BadInput("give a TASK or --next, not both")
            here = None
            if client:
                found = ctx.tmux.run(
                    "display-message", "-p", "-c", client, "#{window_id}", check=False
                )
                here = found[0] if found else None
            target = next_needing(ctx, here)
            if target is None:
                raise NotPossible("no task needs you: none waits, stalled or failed")
            task = str(target.id)
        argv = attach_argv(ctx, task)
        if client:  # from a key binding: switch that client, wherever this runs
            base, window = argv[:-3], argv[-1]  # [*base, verb, "-t", window]
            argv = [*base, "switch-client", "-c", client, "-t", window]
    if "switch-client" in argv:
        subprocess.run(argv, check=False)
        if next_:
            click.echo(f"task {task}")
    else:
        os.execvp(argv[0], argv)


@cli.command()
@click.argument("task", shell_complete=_complete_task)
@click.option("--purge", is_flag=True, help="Delete its log file too.")
def rm(task: str, purge: bool) -> None:
    """Forget an ended task and close its window."""
    from tmux_codex.tasks.act import remove

    with context() as ctx:
        removed = remove(ctx, task, purge=purge)
    click.echo(f"removed task {removed.id} ({printable(removed.name, keep='')})")


@cli.command()
@click.option("--status", "show_status", is_flag=True, help="Whether it runs, and its pid.")
@click.option("--stop", is_flag=True, help="Stop the running monitor.")
@click.option("--detach", is_flag=True, help="Run it in the background (what 'start' does).")
@click.option("--json", "as_json", is_flag=True, help="With --status: print JSON.")
def monitor(show_status: bool, stop: bool, detach: bool, as_json: bool) -> None:
    """Run the monitor: it keeps every task's state current and notifies.

    One runs per state directory; 'start' starts it in the background. With
    no option it runs in the foreground until Ctrl-C or SIGTERM.
    """
    from tmux_codex.core.errors import NotPossible
    from tmux_codex.core.lock import running
    from tmux_codex.core.paths import state_home
    from tmux_codex.monitor import daemon

    if sum((show_status, stop, detach)) > 1:
        raise BadInput("use one of --status, --stop and --detach")
    if as_json and not show_status:
        raise BadInput("--json goes with --status")
    home = state_home()
    if show_status:
        info = running(home)
        data = info or {"running": False, "pid": None}
        data.setdefault("home", str(home))
        if as_json:
            _print_json(data)
        elif info:
            click.echo(f"monitor running: pid {info.get('pid')} since {info.get('started_at')}")
        else:
            click.echo("monitor not running")
        if not info:
            sys.exit(1)
        return
    if stop:
        stopped = daemon.stop(home)
        click.echo(f"monitor {stopped.get('pid')} stopped" if stopped else "monitor not running")
        return
    if detach:
        with context() as ctx:  # checks the config and the state directory first
            pid = daemon.spawn(ctx.store.home)
        if pid is None:
            raise NotPossible(f"the monitor did not start; see {home / 'monitor.log'}")
        click.echo(f"monitor running: pid {pid}")
        return
    from tmux_codex.monitor.loop import serve
    from tmux_codex.monitor.notify import Notifier

    with context() as ctx:
        from tmux_codex.report.task import report_dict

        notifier = Notifier(
            ctx.config.notify, log=lambda line: click.echo(line), reporter=report_dict
        )
        serve(ctx, notifier=notifier)


@cli.command()
@click.option("--once", is_flag=True, help="Print the table once (plain text) and exit.")
@click.option("--width", type=click.IntRange(min=1), help="With --once: the table's width.")
def top(once: bool, width: int | None) -> None:
    """The fleet, live (what the tmux popup shows): ↑/↓ pick, Enter jumps, a/d approve/deny,
    l log, r look again, q quits."""
    from tmux_codex.ui.top import run

    with context() as ctx:
        code = run(ctx, once=once, width=width)
    sys.exit(code)


@cli.command()
def doctor() -> None:
    """Check tmux, codex, the config, the state directory and the monitor.

    Exit 1 when something blocks use (a warning does not).
    """
    from tmux_codex.core.paths import config_path, state_home
    from tmux_codex.ui.doctor import FAIL, run_checks, table

    checks = run_checks(state_home(), config_path())
    click.echo(table(checks))
    if any(c.status == FAIL for c in checks):
        sys.exit(1)


@cli.command("tmux-setup")
@click.option("--socket", default="", help="tmux -L server (default: the one this runs in).")
def tmux_setup(socket: str) -> None:
    """Bind tmux-codex's keys and status line on the tmux server (the TPM plugin runs this).

    Keys come from tmux options (@tmux-codex-key-fleet, -approve, -deny,
    -next, -log); set @tmux-codex-status to off to leave status-right alone.
    """
    from tmux_codex.core import config as config_mod
    from tmux_codex.core.paths import config_path
    from tmux_codex.tmux.bindings import install

    if not socket and not os.environ.get("TMUX"):
        # Not run from inside a tmux server: tmux-codex's own server, as everywhere else.
        socket = os.environ.get("TMUX_CODEX_SOCKET") or config_mod.load(config_path()).tmux.socket
    keys = install(socket)
    click.echo(f"tmux-codex keys bound: {' '.join(keys)}")


@cli.command()
@click.option("--stop", is_flag=True, help="End the demo and remove its scratch directory.")
@click.option(
    "--stall-after",
    type=click.FloatRange(min=1),
    default=20.0,
    show_default=True,
    help="Seconds of silence before the demo's stalling task counts as stalled.",
)
@click.option("--socket", default="tmux-codex-demo", hidden=True, help="The demo's tmux -L.")
def demo(stop: bool, stall_after: float, socket: str) -> None:
    """A live fleet of real Codex tasks, offline, on a tmux server of its own."""
    from tmux_codex.ui import demo as demo_mod

    if stop:
        found = demo_mod.stop(socket=socket)
        click.echo("demo stopped" if found else "no demo was running")
        return
    started = demo_mod.start(socket=socket, stall_after=stall_after)
    click.echo(demo_mod.instructions(started))


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (task ids and names complete too).

    bash: eval "$(tmux-codex completion bash)" in ~/.bashrc; zsh: the same in
    ~/.zshrc; fish: tmux-codex completion fish > ~/.config/fish/completions/tmux-codex.fish
    """
    from click.shell_completion import get_completion_class

    found = get_completion_class(shell)
    assert found is not None
    click.echo(found(cli, {}, "tmux-codex", "_TMUX_CODEX_COMPLETE").source())


# -- entry point ----------------------------------------------------------------


def _check_utf8(args: list[str]) -> None:
    """Arguments that are not UTF-8 (Python holds their bytes as surrogates) are bad input.

    A prompt, name or path tmux-codex cannot keep as text would fail later, half done.
    """
    for number, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "backslashreplace").decode("ascii", "replace")
            raise BadInput(
                f"argument {number} is not UTF-8 text: {printable(shown, keep='')[:60]}"
            ) from None


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; errors are one line on stderr (a traceback with TMUX_CODEX_DEBUG=1)."""
    debug = os.environ.get("TMUX_CODEX_DEBUG") == "1"
    args = sys.argv[1:] if argv is None else argv
    try:
        _check_utf8(args)
        cli.main(args=args, prog_name="tmux-codex", standalone_mode=False)
    except TmuxCodexError as exc:
        if debug:
            raise
        click.echo(f"tmux-codex: {printable(str(exc), keep='')}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("tmux-codex: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # one line, not a traceback
        if debug:
            raise
        if is_disk_full(exc):
            from tmux_codex.core.paths import state_home

            click.echo(f"tmux-codex: {DiskFull(state_home(), exc)}", err=True)
            sys.exit(DiskFull.exit_code)
        click.echo(
            f"tmux-codex: internal error: {type(exc).__name__}: {printable(str(exc), keep='')} "
            f"(TMUX_CODEX_DEBUG=1 shows the traceback)",
            err=True,
        )
        sys.exit(1)
    sys.exit(0)
