"""``python -m tmux_codex`` is the ``tmux-codex`` command."""

from tmux_codex.cli.main import main

main()
