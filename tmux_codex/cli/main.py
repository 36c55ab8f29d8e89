"""The ``tmux-codex`` command line: the group, its entry point, errors as exit codes.

Commands live by concern (``start``, ``reading``, ``act``: acting,
``admin``: running tmux-codex itself); each parses, calls the library and
renders. Kept light: read commands import neither libtmux nor watchdog nor
pyte unless they need them, so ``list`` and ``show`` start fast.
"""

from __future__ import annotations

import os
import sys

import click

from tmux_codex import __version__
from tmux_codex.cli import act, admin, fleet, reading
from tmux_codex.cli.start import start
from tmux_codex.core.errors import BadInput, DiskFull, TmuxCodexError, is_disk_full
from tmux_codex.core.text import printable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tmux-codex")
def cli() -> None:
    """Supervise fleets of OpenAI Codex CLI agents in tmux.

    TASK is a task id, a name, or a tmux window id (@7); inside tmux it may
    be left out to mean the current window's task.
    """


for command in (start, *fleet.COMMANDS, *reading.COMMANDS, *act.COMMANDS, *admin.COMMANDS):
    cli.add_command(command)
cli.add_command(reading.list_cmd, "ls")


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
