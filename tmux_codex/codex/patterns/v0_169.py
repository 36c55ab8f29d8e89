"""The screen patterns of Codex 0.169.0 (captured in ``tests/fixtures/codex-0.169.0/``).

Codex 0.171.0 draws every screen tmux-codex reads the same way: the package's
registry maps it to this table too (see CODEX.md, "Codex 0.171.0").
"""

from __future__ import annotations

import re

from tmux_codex.codex.patterns.table import Patterns, PromptPattern

__all__ = ["PATTERNS_0_169_0"]

#: Every screen text of Codex 0.169.0 that tmux-codex reads.
PATTERNS_0_169_0 = Patterns(
    version="0.169.0",
    prompts=(
        PromptPattern(
            "approval",
            re.compile(r"Would you like to run the following command\?"),
            re.compile(r"Press enter to confirm|\b1\.\s+Yes, proceed\b"),
        ),
        PromptPattern(
            "edit",
            re.compile(r"Would you like to make the following edits\?"),
            re.compile(r"Press enter to confirm|\b1\.\s+Yes, proceed\b"),
        ),
        PromptPattern(
            "trust",
            re.compile(r"Trust this folder\?"),
            re.compile(r"\b1\.\s+Trust and continue\b"),
        ),
        PromptPattern(
            "menu",  # Codex is not logged in (or its key is missing): a sign-in menu
            re.compile(r"Choose how you want to use Codex|Sign in with ChatGPT"),
            re.compile(r"Press enter to continue"),
        ),
        PromptPattern(
            "menu",  # the user's own hooks are not trusted (tmux-codex's own are)
            re.compile(r"^\s*Hooks need review\b"),
            re.compile(r"\b3\.\s+Continue without trusting\b"),
        ),
        PromptPattern(
            "question",
            re.compile(r"^\s*Question \d+/\d+\b"),
            re.compile(r"enter to submit answer|\b1\.\s+\S"),
        ),
    ),
    menu_confirm=re.compile(r"^\s*Press enter to confirm\b"),
    option=re.compile(r"^\d+\.\s+\S"),
    selected=re.compile(r"^(\s*)›(\s+)(?=\d+\.\s)"),
    hint=re.compile(
        r"^(?:Press enter to confirm\b.*"
        r"|.*\benter to submit answer\b.*"
        r"|enter continue\b.*"
        r"|enter confirm · esc skip\b.*)$"
    ),
    user_line=re.compile(r"^› (?!\d+\.\s)"),
    turn_done=re.compile(r"^[\s─]*Worked for (?:<\s*)?\d"),
    working=re.compile(r"^[•◦]\s+\S.*\((?:\d+[hms]\s*)+•\s*esc to interrupt\)"),
    reconnecting=re.compile(r"\bReconnecting\.\.\.\s*\d+/\d+"),
    aborted=re.compile(r"^✗ You canceled the request\b"),
    error=re.compile(r"^■\s*(.*)$"),
    title_working=re.compile(r"^[\u2801-\u28ff]\s"),
    title_waiting=re.compile(r"^\[ [!.] \] Action Required\b"),
    state_escape=re.compile(rb"\x1b\]7501;state=([^\x07\x1b]*)(?:\x07|\x1b\\)"),
    status_words=("Working", "(", "esc", "to", "interrupt)", "•", "◦"),
    # "(12s", "1m", "05s)", a bullet or spinner, or a digit or two the renderer redrew
    # alone ("7"); a longer bare number ("000125") is a counter, not the timer.
    status_timer=re.compile(r"[•◦\u2800-\u28ff]*\(?(?:(?:\d+[hms])+|\d{1,2})?\)?[•◦]*"),
)
