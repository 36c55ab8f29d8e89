"""The tmux-codex command: click commands only (parse, call the library, render)."""
