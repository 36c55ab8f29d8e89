"""Acting on tasks: send, keys, approve, deny, poke, resume, kill, attach, rm."""

from __future__ import annotations

import os

import click

from tmux_codex.cli.common import complete_task, context
from tmux_codex.cli.output import task_said
from tmux_codex.core.text import printable


@click.command()
@click.argument("task", shell_complete=complete_task)
@click.argument("text")
@click.option("--no-enter", is_flag=True, help="Do not press Enter after the text.")
def send(task: str, text: str, no_enter: bool) -> None:
    """Send TEXT to a task: typed at a prompt, submitted into the composer otherwise.

    '' sends just Enter.
    """
    from tmux_codex.tasks.act import send as send_text
    from tmux_codex.tasks.lookup import last_done

    with context() as ctx:
        sent = send_text(ctx, task, text, enter=not no_enter)
        click.echo(task_said(sent, last_done(ctx, sent)))


@click.command()
@click.argument("task", shell_complete=complete_task)
@click.argument("key_names", nargs=-1, required=True, metavar="KEY...")
def keys(task: str, key_names: tuple[str, ...]) -> None:
    """Send tmux key names (Enter, Escape, C-c, y, ...) to a task."""
    from tmux_codex.tasks.act import keys as send_keys

    with context() as ctx:
        send_keys(ctx, task, list(key_names))


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
@click.option("--always", is_flag=True, help="Approve and don't ask again (p / a).")
def approve(task: str | None, always: bool) -> None:
    """Approve the prompt a task waits at (command, edit, trust, question).

    Acts only if the prompt is still the one last seen, and checks it went away.
    """
    from tmux_codex.tasks.act import answer

    with context() as ctx:
        done = answer(ctx, task, "always" if always else "yes")
    click.echo(done.label)


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
def deny(task: str | None) -> None:
    """Refuse the prompt a task waits at (Escape); Codex asks what to do instead."""
    from tmux_codex.tasks.act import answer

    with context() as ctx:
        done = answer(ctx, task, "no")
    click.echo(done.label)


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
def poke(task: str | None) -> None:
    """Press Enter once in a task's window (recorded as an event)."""
    from tmux_codex.tasks.act import poke as poke_task
    from tmux_codex.tasks.lookup import last_done

    with context() as ctx:
        poked = poke_task(ctx, task)
        click.echo(task_said(poked, last_done(ctx, poked)))


@click.command()
@click.argument("task", shell_complete=complete_task)
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

    Its old window is closed; the log goes on after a separator line. With
    [fleet] max_parallel tasks running it waits 'queued', and the monitor
    resumes it when a slot frees.
    """
    from tmux_codex.tasks.resume import resume as resume_task

    with context() as ctx:
        resumed = resume_task(ctx, task, prompt, verify=timeout)
        if resumed.state == "queued":  # the monitor starts it when a slot frees
            from tmux_codex.monitor.daemon import spawn

            if spawn(ctx.store.home) is None:
                click.echo(
                    "tmux-codex: warning: the monitor did not start, and only it starts "
                    f"queued tasks; see {ctx.store.home / 'monitor.log'}",
                    err=True,
                )
    name = printable(resumed.name, keep="")
    if resumed.state == "queued":
        click.echo(
            f"task {resumed.id} ({name}) queued: attempt {resumed.attempt} waits for a slot "
            "([fleet] max_parallel tasks run)"
        )
    else:
        click.echo(f"task {resumed.id} ({name}) resumed: attempt {resumed.attempt}")


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
def kill(task: str | None) -> None:
    """End a task's Codex (state killed); its window keeps the last screen."""
    from tmux_codex.tasks.act import kill as kill_task

    with context() as ctx:
        killed = kill_task(ctx, task)
    click.echo(f"task {killed.id} ({printable(killed.name, keep='')}) {killed.state}")


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
@click.option("--next", "next_", is_flag=True, help="The next task that needs you.")
@click.option("--client", help="The tmux client to switch (key bindings pass #{client_name}).")
def attach(task: str | None, next_: bool, client: str | None) -> None:
    """Show a task's window: switch to it inside tmux, attach outside.

    --next picks the next task that waits, stalled or failed (after the
    current window's task).
    """
    import subprocess

    from tmux_codex.tasks.lookup import window_argv

    with context() as ctx:
        argv, shown = window_argv(ctx, task, next_=next_, client=client)
    if "switch-client" in argv:
        subprocess.run(argv, check=False)
        if next_:
            click.echo(f"task {shown}")
    else:
        os.execvp(argv[0], argv)


@click.command()
@click.argument("task", shell_complete=complete_task)
@click.option("--purge", is_flag=True, help="Delete its log too, and its worktree's branch.")
@click.option("--force", is_flag=True, help="Discard its worktree's unmerged work.")
def rm(task: str, purge: bool, force: bool) -> None:
    """Forget an ended (or queued) task and close its window.

    A worktree task's worktree goes too, but never while it holds
    uncommitted or unmerged work (merge it, or --force to discard it).
    """
    from tmux_codex.fleet.ops import remove_task

    with context() as ctx:
        removed = remove_task(ctx, task, purge=purge, force=force)
    click.echo(f"removed task {removed.id} ({printable(removed.name, keep='')})")


COMMANDS = (send, keys, approve, deny, poke, resume, kill, attach, rm)
