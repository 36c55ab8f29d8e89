"""Deciding on a command Codex wants to run: a real shell parser and the rules (pure)."""
