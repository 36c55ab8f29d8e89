"""The only code that runs tmux: the server, its formats, key bindings."""
