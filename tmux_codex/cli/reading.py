"""Reading tasks: list, show, log, screen, wait, events, report, status."""

from __future__ import annotations

import sys

import click

from tmux_codex.cli.common import complete_states, complete_task, context
from tmux_codex.cli.output import echo_stream, print_json, task_fields, task_table, write_bytes
from tmux_codex.core.errors import BadInput
from tmux_codex.core.models import STATES
from tmux_codex.core.text import printable


@click.command("list")
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
        print_json([t.to_dict() for t in tasks])
    elif tasks:
        click.echo(task_table(tasks))
    else:
        click.echo("no tasks" if include_all else "no live tasks (see --all)")


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def show(task: str | None, as_json: bool) -> None:
    """Show one task in detail."""
    from tmux_codex.tasks.queries import show as show_task

    with context() as ctx:
        found = show_task(ctx, task)
    if as_json:
        print_json(found.to_dict())
        return
    for line in task_fields(found):
        click.echo(line)


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
@click.option("--limit", type=click.IntRange(min=1), help="Only the last CHARS characters.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing what the task prints.")
@click.option("--raw", is_flag=True, help="The raw bytes, escape sequences and all.")
def log(task: str | None, limit: int | None, follow: bool, raw: bool) -> None:
    """Print a task's log as readable text (or raw)."""
    from tmux_codex.tasks.context import resolve
    from tmux_codex.tasks.logview import follow_log, log_errors
    from tmux_codex.tasks.queries import read_log, write_log

    with context() as ctx:
        found = resolve(ctx, task)
        with log_errors(found):
            if limit:
                out = read_log(found, raw=raw, limit=limit)
                if isinstance(out, bytes):
                    write_bytes(out)
                else:
                    click.echo(out)
            elif raw:
                write_log(found, click.echo, sys.stdout.buffer.write)
                sys.stdout.buffer.flush()
            else:
                echo_stream(lambda write: write_log(found, write))
        if follow:
            from tmux_codex.codex.logtext import strip_escapes

            for chunk in follow_log(ctx, found):
                if raw:
                    write_bytes(chunk)
                else:
                    click.echo(strip_escapes(chunk), nl=False)


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
def screen(task: str | None) -> None:
    """Print the task's pane as it is now."""
    from tmux_codex.tasks.queries import screen as screen_text

    with context() as ctx:
        click.echo(screen_text(ctx, task))


@click.command("wait")
@click.argument("task", required=False, shell_complete=complete_task)
@click.option(
    "--for",
    "for_states",
    default="waiting,idle,done,failed,killed,lost",
    show_default=True,
    help="States to wait for (comma-separated).",
    shell_complete=complete_states,
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
    from tmux_codex.tasks.lookup import wait_for

    states = frozenset(s.strip() for s in for_states.split(",") if s.strip())
    unknown = sorted(states - set(STATES))
    if unknown or not states:
        raise BadInput(
            f"unknown state {unknown[0]!r}; states: {', '.join(STATES)}"
            if unknown
            else "--for needs at least one state"
        )
    with context() as ctx:
        found = wait_for(ctx, task, states, timeout)
    click.echo(found.label)


@click.command()
@click.option("--task", "task_ref", help="Only this task's events.", shell_complete=complete_task)
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
                print_json(event.to_dict())
            else:
                detail = printable((event.detail or "").split("\n")[0], keep="")
                click.echo(
                    f"{event.at}  {event.task:>4}  {event.from_state or '-'} -> "
                    f"{event.label}  by {event.by}  {detail}".rstrip()
                )
            if follow:
                sys.stdout.flush()


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report(task: str | None, as_json: bool) -> None:
    """What a task did: files changed, tests run, tokens, its last message."""
    from tmux_codex.report.task import report as task_report
    from tmux_codex.report.text import render_text

    with context() as ctx:
        found = task_report(ctx, task)
    if as_json:
        print_json(found.to_dict())
    else:
        click.echo(render_text(found))


@click.command()
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
    from tmux_codex.tasks.queries import fleet_tokens, status_counts, status_line

    with context() as ctx:
        counts = status_counts(ctx)
        tokens = fleet_tokens(ctx) if fmt == "json" else None
    if fmt == "json":
        print_json({**counts, "tokens": tokens})
    elif fmt == "tmux":
        click.echo(status_line(counts))
    else:
        click.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no tasks")


COMMANDS = (list_cmd, show, log, screen, wait_cmd, events, report, status)
