"""tmux-codex: supervise fleets of OpenAI Codex CLI agents in tmux."""

__version__ = "0.1.0.dev0"
