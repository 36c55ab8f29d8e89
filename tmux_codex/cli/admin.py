"""Running tmux-codex itself: monitor, top, doctor, tmux-setup, demo, completion."""

from __future__ import annotations

import sys

import click

from tmux_codex.cli.common import context
from tmux_codex.cli.output import print_json
from tmux_codex.core.errors import BadInput


@click.command()
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
    from tmux_codex.core.paths import state_home
    from tmux_codex.monitor import daemon
    from tmux_codex.ui import monitoring as monitor_ui

    if sum((show_status, stop, detach)) > 1:
        raise BadInput("use one of --status, --stop and --detach")
    if as_json and not show_status:
        raise BadInput("--json goes with --status")
    home = state_home()
    if show_status:
        data = monitor_ui.status(home)
        if as_json:
            print_json(data)
        elif data["running"]:
            click.echo(f"monitor running: pid {data.get('pid')} since {data.get('started_at')}")
        else:
            click.echo("monitor not running")
        if not data["running"]:
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
    with context() as ctx:
        monitor_ui.serve(ctx, log=lambda line: click.echo(line))


@click.command()
@click.option("--once", is_flag=True, help="Print the table once (plain text) and exit.")
@click.option("--width", type=click.IntRange(min=1), help="With --once: the table's width.")
def top(once: bool, width: int | None) -> None:
    """The fleet, live (what the tmux popup shows): ↑/↓ pick, Enter jumps, a/d approve/deny,
    l log, r look again, q quits."""
    from tmux_codex.ui.top import run

    with context() as ctx:
        code = run(ctx, once=once, width=width)
    sys.exit(code)


@click.command()
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


@click.command("tmux-setup")
@click.option("--socket", default="", help="tmux -L server (default: the one this runs in).")
def tmux_setup(socket: str) -> None:
    """Bind tmux-codex's keys and status line on the tmux server (the TPM plugin runs this).

    Keys come from tmux options (@tmux-codex-key-fleet, -approve, -deny,
    -next, -log); set @tmux-codex-status to off to leave status-right alone.
    """
    from tmux_codex.ui.tmux_setup import setup

    keys = setup(socket)
    click.echo(f"tmux-codex keys bound: {' '.join(keys)}")


@click.command()
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


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script (task ids and names complete too).

    bash: eval "$(tmux-codex completion bash)" in ~/.bashrc; zsh: the same in
    ~/.zshrc; fish: tmux-codex completion fish > ~/.config/fish/completions/tmux-codex.fish
    """
    from click.shell_completion import get_completion_class

    found = get_completion_class(shell)
    assert found is not None
    root = ctx.find_root().command
    click.echo(found(root, {}, "tmux-codex", "_TMUX_CODEX_COMPLETE").source())


COMMANDS = (monitor, top, doctor, tmux_setup, demo, completion)
