"""The fleet's commands: ``batch``, ``diff``, ``merge``."""

from __future__ import annotations

import sys

import click

from tmux_codex.cli.common import complete_task, context
from tmux_codex.cli.output import print_json, task_said, write_bytes


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the tasks as a JSON array.")
def batch(file: str, as_json: bool) -> None:
    """Start every [[task]] of a TOML file (checked whole first); prints one id per task."""
    from tmux_codex.fleet.batchrun import run_batch
    from tmux_codex.monitor.daemon import spawn

    with context() as ctx:
        tasks = run_batch(ctx, file)
        if spawn(ctx.store.home) is None:
            click.echo("tmux-codex: warning: the monitor did not start", err=True)
    if as_json:
        print_json([t.to_dict() for t in tasks])
    else:
        for task in tasks:
            click.echo(task.id)


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
@click.option("--stat", is_flag=True, help="Files and lines changed, not the patch.")
@click.option("--json", "as_json", is_flag=True, help="The changes as JSON.")
def diff(task: str | None, stat: bool, as_json: bool) -> None:
    """What the task changed since it began: committed, staged, unstaged, untracked."""
    from tmux_codex.report.diff import render_to, to_json
    from tmux_codex.report.task import task_diff

    with context() as ctx:
        changes = task_diff(ctx, task)
    if as_json:
        print_json(to_json(changes))
        return
    color = sys.stdout.isatty()
    sys.stdout.flush()
    render_to(changes, sys.stdout.buffer, stat=stat, color=color)
    write_bytes(b"")


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
@click.option("--squash", is_flag=True, help="One commit on the base, not the branch's history.")
@click.option("-m", "--message", help="The message of the commit the merge makes.")
@click.option("--json", "as_json", is_flag=True, help="What was done, as JSON.")
def merge(task: str | None, squash: bool, message: str | None, as_json: bool) -> None:
    """Merge a worktree task's branch (and its uncommitted work) into its base."""
    from tmux_codex.fleet.ops import merge_task

    with context() as ctx:
        merged, result = merge_task(ctx, task, squash=squash, message=message)
    if as_json:
        print_json(result.to_json())
    elif result.kind == "up-to-date":
        click.echo(task_said(merged, f"{result.base} already has everything of {result.branch}"))
    else:
        click.echo(
            task_said(
                merged,
                f"merged {result.branch} into {result.base} ({result.kind}): "
                f"{result.old_base[:12]}..{result.new_base[:12]}",
            )
        )


COMMANDS = (batch, diff, merge)
