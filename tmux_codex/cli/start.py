"""``start``: a new task."""

from __future__ import annotations

from typing import Any

import click

from tmux_codex.cli.common import context
from tmux_codex.cli.output import print_json
from tmux_codex.core.errors import BadInput


@click.command()
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
@click.option("--worktree", is_flag=True, help="Run in a new git worktree of -C's repository.")
@click.option("--branch", help="The worktree's new branch (default: [fleet] branch_prefix + name).")
@click.option("--base", help="What the worktree's branch starts from (default: the checkout's).")
@click.option("--after", "after", help="Start once these tasks are done (TASK[,TASK...]).")
@click.option("--no-monitor", is_flag=True, help="Do not start the monitor.")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
def start(
    prompt: str | None,
    workdir: str,
    name: str | None,
    mode: str | None,
    prompt_file: Any,
    codex_args: tuple[str, ...],
    worktree: bool,
    branch: str | None,
    base: str | None,
    after: str | None,
    no_monitor: bool,
    as_json: bool,
) -> None:
    """Start Codex on PROMPT in a new tmux window; prints the task id.

    With [fleet] max_parallel tasks running, or --after tasks not done yet,
    the task waits 'queued' and the monitor starts it when its turn comes.
    """
    from tmux_codex.fleet.start import after_ids, start_task
    from tmux_codex.tasks.launch import MAX_PROMPT_BYTES, StartRequest, runs_inside

    if prompt is not None and prompt_file is not None:
        raise BadInput("give the prompt as an argument or with --prompt-file, not both")
    try:
        # Bounded: a prompt longer than start takes is bad input, not a file read whole.
        text = prompt_file.read(MAX_PROMPT_BYTES + 1) if prompt_file is not None else (prompt or "")
    except UnicodeDecodeError as exc:
        raise BadInput(f"the prompt file is not UTF-8 text: {exc}") from None
    with context() as ctx:
        req = StartRequest(
            prompt=text,
            workdir=workdir,
            name=name,
            mode=mode,
            codex_args=codex_args,
            after=after_ids(ctx, after),
            may_queue=not no_monitor,
        )
        task = start_task(
            ctx.store, ctx.config, req, ctx.socket, worktree=worktree, branch=branch, base=base
        )
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
        print_json(task.to_dict())
    else:
        click.echo(task.id)
