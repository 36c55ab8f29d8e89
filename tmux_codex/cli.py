"""The ``tmux-codex`` command line: parse, call the library, render."""

from __future__ import annotations

import click

from tmux_codex import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tmux-codex")
def cli() -> None:
    """Supervise fleets of OpenAI Codex CLI agents in tmux."""


def main() -> None:
    cli()
