"""``python -m tmux_codex.ui.top``: the live table, its context from the environment."""

from tmux_codex.ui.top import main

main()
