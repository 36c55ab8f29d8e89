"""What is known about the Codex CLI: versions, sessions, screens, log text, hooks."""
