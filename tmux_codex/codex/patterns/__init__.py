"""Screen patterns: one table per Codex version, and the table each version is read with.

Every screen text tmux-codex knows (prompts, dividers, the status line, the
pane title, Codex's state escape) lives in a :class:`Patterns` table written
against one Codex version, one module per table (``v0_169.py`` holds
:data:`PATTERNS_0_169_0`). :data:`PATTERNS` maps Codex versions to tables;
:func:`patterns_for` picks the table for the version a task runs
(``Task.codex_version``): the one registered for it, else the one of the
newest registered version not newer than it (the oldest for an older Codex;
the newest for an unknown one).

A Codex version that draws something differently needs a table of its own,
not new code:

1. a new module beside this one, named after the version (``v0_175.py``),
   defining ``PATTERNS_0_175_0 = Patterns(version="0.175.0", ...)``; a
   table that differs in a few texts can be
   ``dataclasses.replace(PATTERNS_0_169_0, version="0.175.0", ...)``;
2. one line in :data:`PATTERNS`: ``"0.175.0": PATTERNS_0_175_0``
   (with its import).

A version that draws every screen as an older one did needs no table; a line
mapping it to that table records that its captures were checked (0.171.0).
"""

from __future__ import annotations

import functools

from tmux_codex.codex.patterns.table import Patterns, PromptPattern
from tmux_codex.codex.patterns.v0_169 import PATTERNS_0_169_0
from tmux_codex.codex.version import version_key

__all__ = ["PATTERNS", "PATTERNS_0_169_0", "Patterns", "PromptPattern", "patterns_for"]

#: The table each Codex version is read with, by version.
PATTERNS: dict[str, Patterns] = {
    "0.169.0": PATTERNS_0_169_0,
    "0.171.0": PATTERNS_0_169_0,  # draws every screen tmux-codex reads as 0.169.0 did
}


@functools.lru_cache(maxsize=16)
def patterns_for(version: str | None = None) -> Patterns:
    """The table for ``version``: its own, else that of the newest older version registered.

    ``None`` (not known) means the newest version's table; a version older
    than every registered one gets the oldest one's.
    """
    known = sorted(PATTERNS, key=version_key)
    if version is None:
        return PATTERNS[known[-1]]
    if version in PATTERNS:
        return PATTERNS[version]
    wanted = version_key(version)
    older = [name for name in known if version_key(name) <= wanted]
    return PATTERNS[older[-1] if older else known[0]]
