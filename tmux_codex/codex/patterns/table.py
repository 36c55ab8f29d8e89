"""What a pattern table holds: every screen text :mod:`~tmux_codex.codex.classify` knows.

The types only; the tables themselves are one module per Codex version
beside this one (``v0_169.py``, …), registered in the package's ``PATTERNS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Patterns", "PromptPattern"]


@dataclass(frozen=True)
class PromptPattern:
    """One kind of prompt: where it starts, and what shows it is still up."""

    reason: str
    heading: re.Pattern[str]  # searched per screen line: the line the question is on
    confirm: re.Pattern[str]  # searched in the prompt's joined text: it is complete and live


@dataclass(frozen=True)
class Patterns:
    """Everything :func:`~tmux_codex.codex.classify.classify` recognises on the screen
    of one Codex version (and what the monitor reads in its raw output)."""

    version: str
    prompts: tuple[PromptPattern, ...]  # checked in order; the first live one wins
    menu_confirm: re.Pattern[str]  # any other selection prompt ("Press enter to confirm")
    option: re.Pattern[str]  # a numbered choice, selection marker already removed
    selected: re.Pattern[str]  # the selection marker before a choice ("› 1. …")
    hint: re.Pattern[str]  # key-hint lines under a prompt: not part of its text
    user_line: re.Pattern[str]  # the composer or a user message in the transcript
    turn_done: re.Pattern[str]  # the divider printed when a turn completes
    working: re.Pattern[str]  # the status line while a turn runs
    reconnecting: re.Pattern[str]  # a retry in progress: still working
    aborted: re.Pattern[str]  # a cancelled approval: Codex ends the turn
    error: re.Pattern[str]  # an error line; group 1 is its text
    title_working: re.Pattern[str]  # pane title while working (spinner)
    title_waiting: re.Pattern[str]  # pane title while a prompt waits
    state_escape: re.Pattern[bytes]  # Codex's private state escape in raw bytes; group 1: value
    status_words: tuple[str, ...]  # the words of the working status line (redrawn every second)
    status_timer: re.Pattern[str]  # a token of its timer or bullets: "(12s", "1m", "•"
