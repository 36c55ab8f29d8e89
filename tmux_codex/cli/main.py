"""The ``tmux-codex`` command line: the group, its entry point, errors as exit codes.

Commands live by concern (``start``, ``reading``, ``act``: acting,
``admin``: running tmux-codex itself); each parses, calls the library and
renders. Kept light: the group imports a command's module only when that
command runs (``--help`` and shell completion of command names import them
all), and read commands import neither libtmux nor watchdog nor pyte unless
they need them, so ``list`` and ``show`` start fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

from tmux_codex import __version__
from tmux_codex.core.errors import BadInput, DiskFull, TmuxCodexError, is_disk_full
from tmux_codex.core.text import printable

# Every command (and alias) by name: "module:attribute". A test checks it
# against every command the cli modules define, so none can be left out.
LAZY_COMMANDS: Mapping[str, str] = {
    "start": "tmux_codex.cli.start:start",
    "batch": "tmux_codex.cli.fleet:batch",
    "diff": "tmux_codex.cli.fleet:diff",
    "merge": "tmux_codex.cli.fleet:merge",
    "list": "tmux_codex.cli.reading:list_cmd",
    "ls": "tmux_codex.cli.reading:list_cmd",
    "show": "tmux_codex.cli.reading:show",
    "log": "tmux_codex.cli.reading:log",
    "screen": "tmux_codex.cli.reading:screen",
    "wait": "tmux_codex.cli.reading:wait_cmd",
    "events": "tmux_codex.cli.reading:events",
    "report": "tmux_codex.cli.reading:report",
    "status": "tmux_codex.cli.reading:status",
    "send": "tmux_codex.cli.act:send",
    "keys": "tmux_codex.cli.act:keys",
    "approve": "tmux_codex.cli.act:approve",
    "deny": "tmux_codex.cli.act:deny",
    "poke": "tmux_codex.cli.act:poke",
    "resume": "tmux_codex.cli.act:resume",
    "kill": "tmux_codex.cli.act:kill",
    "attach": "tmux_codex.cli.act:attach",
    "rm": "tmux_codex.cli.act:rm",
    "monitor": "tmux_codex.cli.admin:monitor",
    "top": "tmux_codex.cli.admin:top",
    "doctor": "tmux_codex.cli.admin:doctor",
    "tmux-setup": "tmux_codex.cli.admin:tmux_setup",
    "demo": "tmux_codex.cli.admin:demo",
    "completion": "tmux_codex.cli.admin:completion",
}


def load_command(target: str) -> click.Command:
    """The command a ``LAZY_COMMANDS`` value ("module:attribute") names, its module imported now."""
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


class LazyGroup(click.Group):
    """A group whose commands are imported when asked for (click's "lazily loading subcommands").

    ``lazy_commands`` maps each name to "module:attribute"; commands added with
    ``add_command`` work too. Names are listed sorted, as ``click.Group`` does.
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        return load_command(target)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            # click >= 8.4 suggests close names ("Did you mean ...?") from
            # self.commands, which holds none of the lazy ones: suggest from all.
            no_such_command: Any = getattr(click.exceptions, "NoSuchCommand", None)
            if no_such_command is None or not isinstance(exc, no_such_command):
                raise
            raise no_such_command(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None


@click.group(
    cls=LazyGroup,
    lazy_commands=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="tmux-codex")
def cli() -> None:
    """Supervise fleets of OpenAI Codex CLI agents in tmux.

    TASK is a task id, a name, or a tmux window id (@7); inside tmux it may
    be left out to mean the current window's task.
    """


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
