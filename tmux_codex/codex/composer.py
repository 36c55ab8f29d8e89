"""Codex's composer (the input box at the bottom of the TUI), read from a screen."""

from __future__ import annotations

#: Codex marks the composer's first line with this prompt character.
PROMPT = "›"
#: How many bottom lines the composer and its footer may take.
_BOTTOM = 12


def composer_line(screen: str) -> str | None:
    """The composer's first line (prompt included), or None when none is on screen."""
    lines = [line.rstrip() for line in screen.rstrip("\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    for line in reversed(lines[-_BOTTOM:]):
        if line.startswith(PROMPT):
            return line
    return None
