"""Classify a live Codex pane from its screen text and title.

Pure: no tmux, no I/O. The caller handles dead panes (``done``/``failed``)
itself; :func:`classify` only says whether a live Codex is ``working``,
``waiting`` at a prompt (and which one), or ``idle``; :func:`decide` adds
what one look gives besides the screen (the pane's death, Codex's last state
escape, the task's state before).

Every screen text this module knows comes from a pattern table
(:mod:`tmux_codex.codex.patterns`, one per Codex version): callers pass
``patterns=patterns_for(task.codex_version)``; with none, the newest table
reads the screen. A Codex that draws something differently means a new table,
not new code here.

How a TUI screen is read, most certain first:

1. A prompt that is live: its heading lies below the last "Worked for"
   divider and no composer or user message line (``› …``) comes after it,
   and its confirm text is there too → ``waiting`` with the prompt's kind.
2. Within the current turn (below the last "Worked for" divider or user
   message, above the composer): a "Reconnecting... n/m" line below any
   error → ``working``;
   a cancelled approval (which ends the turn) → ``idle``; the status line
   ``• Working (12s • esc to interrupt)`` → ``working``; an error ``■ …``
   → ``idle`` with ``error`` set.
3. The turn ended with a "Worked for" divider → ``idle``.
4. Otherwise the title decides: a braille spinner → ``working`` (text that
   streams shows no status line); "Action Required" → ``waiting``
   (``unknown``) when no composer is on screen (prompts replace it; with the
   composer back the title is stale and the turn goes on: ``working``);
   anything else → ``idle``.

The composer (``› Ask Codex to do anything``) and the footer are on screen in
every state, so they say nothing by themselves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tmux_codex.codex.patterns import Patterns, patterns_for

__all__ = ["Verdict", "classify", "decide"]

WORKING = "working"
WAITING = "waiting"
IDLE = "idle"


@dataclass(frozen=True)
class Verdict:
    """What a live Codex pane is doing."""

    state: str  # "working" | "waiting" | "idle"
    reason: str | None  # for waiting: approval | edit | trust | question | menu | unknown
    prompt_text: str | None  # for waiting: the prompt, wrapped lines joined; else None
    error: str | None = None  # the current "■ …" error (without the mark) when idle after one


def classify(
    screen: str, title: str = "", mode: str = "tui", *, patterns: Patterns | None = None
) -> Verdict:
    """The state of a live Codex pane from ``capture-pane -p`` text and ``#{pane_title}``."""
    if mode == "exec":
        return Verdict(WORKING, None, None)
    table = patterns if patterns is not None else patterns_for()
    lines = [line.rstrip() for line in screen.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    width = max([80, *(len(line) for line in lines)])

    divider = _last(lines, table.turn_done, 0, len(lines))
    after_divider = 0 if divider is None else divider + 1
    prompt = _live_prompt(lines, after_divider, width, table)
    if prompt is not None:
        return prompt

    composer = _composer(lines, table)
    end = len(lines) if composer is None else composer
    start = after_divider
    for index in range(after_divider, end):
        if table.user_line.match(lines[index]):
            start = index + 1
    turn = lines[start:end]

    retry = _last(turn, table.reconnecting, 0, len(turn))
    failed = _last(turn, table.error, 0, len(turn))
    if retry is not None and (failed is None or retry > failed):
        return Verdict(WORKING, None, None)  # retrying, after any error it shows
    if any(table.aborted.match(line) for line in turn):
        return Verdict(IDLE, None, None)
    if any(table.working.match(line) for line in turn):
        return Verdict(WORKING, None, None)
    error = _last_error(turn, table)
    if error is not None:
        return Verdict(IDLE, None, None, error)
    if divider is not None and start == after_divider:
        return Verdict(IDLE, None, None)  # the turn ended with "Worked for"
    if table.title_working.match(title):
        return Verdict(WORKING, None, None)
    if table.title_waiting.match(title):
        if composer is not None:
            # Prompts replace the composer: this title is stale, the prompt was
            # just answered and the turn goes on.
            return Verdict(WORKING, None, None)
        bottom = _block_start(lines, len(lines) - 1, table) if lines else 0
        text = _prompt_text(lines[bottom:], width, table)
        return Verdict(WAITING, "unknown", text or None)
    return Verdict(IDLE, None, None)


def decide(
    screen: str,
    title: str = "",
    mode: str = "tui",
    *,
    announced: str | None = None,
    previous: str = "working",
    dead: bool = False,
    exit_status: int | None = None,
    awaits_prompt: bool = True,
    patterns: Patterns | None = None,
) -> Verdict:
    """A task's state from every signal one look gives, most certain first.

    ``announced`` is the last state escape Codex printed (see
    :func:`announcements`), ``previous`` the task's state before this look.

    - A dead pane: ``done`` (status 0) or ``failed``; with no status known yet,
      ``previous`` (whoever reaps Codex records the status).
    - An empty screen: ``starting``.
    - Otherwise the screen (:func:`classify`), corrected by what Codex said of
      itself: a TUI that looks idle but has never announced a turn
      (``idle`` or nothing) is still ``starting``; one that looks idle while
      its last announcement is ``working`` is between two steps of a turn
      (a tool call drawn, its prompt not yet): ``working``.
    - A ``stalled`` task that still looks ``working`` stays ``stalled``:
      only new output ends a stall, and the monitor decides that.
    """
    if dead:
        if exit_status is None:
            return Verdict(previous, None, None)
        return Verdict("done" if exit_status == 0 else "failed", None, None)
    if not screen.strip():
        return Verdict("starting", None, None)
    verdict = classify(screen, title, mode, patterns=patterns)
    if verdict.state == IDLE and mode == "tui":
        if previous == "starting" and (
            announced is None or (announced.startswith("idle") and awaits_prompt)
        ):
            return Verdict("starting", None, None)
        if announced is not None and announced.startswith("working"):
            return Verdict(WORKING, None, None)
    if verdict.state == WORKING and previous == "stalled":
        return Verdict("stalled", None, None)
    return verdict


def _last(lines: Sequence[str], pattern: re.Pattern[str], start: int, end: int) -> int | None:
    for index in range(end - 1, start - 1, -1):
        if pattern.search(lines[index]):
            return index
    return None


def _composer(lines: Sequence[str], table: Patterns) -> int | None:
    """The composer's line, if the composer is at the bottom of the screen.

    That is the last ``› `` line, followed only by its own indented
    continuation lines, one blank line and the footer (one to three lines).
    A prompt replaces the composer, so a ``› `` line above a prompt is a user
    message, not the composer.
    """
    footer = 0
    index = len(lines) - 1
    while index >= 0 and lines[index] and lines[index][0].isspace():
        footer += 1
        index -= 1
    if not 1 <= footer <= 3 or index < 1 or lines[index]:
        return None
    index -= 1  # the blank line between the composer and the footer
    while index >= 0 and lines[index] and lines[index][0].isspace():
        index -= 1
    if index >= 0 and table.user_line.match(lines[index]):
        return index
    return None


def _live_prompt(lines: list[str], start: int, width: int, table: Patterns) -> Verdict | None:
    """A prompt below the last divider with no composer or user message under it."""
    for kind in table.prompts:
        heading = _last(lines, kind.heading, start, len(lines))
        if heading is None or _has_user_line(lines, heading + 1, table):
            continue
        block = lines[_block_start(lines, heading, table) :]
        text = _prompt_text(block, width, table)
        if kind.confirm.search(" ".join(_logical_lines(block, width, table))):
            return Verdict(WAITING, kind.reason, text)
    confirm = _last(lines, table.menu_confirm, start, len(lines))
    if confirm is None or _has_user_line(lines, confirm + 1, table):
        return None
    block = lines[_block_start(lines, confirm, table) :]
    logical = _logical_lines(block, width, table)
    reason = "menu" if any(table.option.match(line) for line in logical) else "unknown"
    return Verdict(WAITING, reason, _prompt_text(block, width, table))


def _has_user_line(lines: Sequence[str], start: int, table: Patterns) -> bool:
    return any(table.user_line.match(line) for line in lines[start:])


def _block_start(lines: Sequence[str], index: int, table: Patterns) -> int:
    """Where the block holding ``lines[index]`` begins.

    Walks up over indented lines, single blank lines and choices; stops at a
    line that starts at column 0 (a transcript entry) or at two blank lines.
    """
    start = index
    blanks = 0
    for above in range(index - 1, -1, -1):
        line = lines[above]
        if not line:
            blanks += 1
            if blanks == 2:
                break
            continue
        if not line[0].isspace() and not table.selected.match(line):
            break
        blanks = 0
        start = above
    return start


def _prompt_text(block: Sequence[str], width: int, table: Patterns) -> str:
    logical = _logical_lines(block, width, table)
    return "\n".join(line for line in logical if not table.hint.match(line))


def _logical_lines(block: Sequence[str], width: int, table: Patterns) -> list[str]:
    """Physical screen lines → logical lines: wrapped lines joined, markers removed.

    A line continues the one above when it is indented deeper than where that
    logical line began (a hanging indent), or when its first word could not
    have fitted on the line above. Choices and blank lines always break.
    """
    out: list[str] = []
    first_indent = 0
    previous: str | None = None  # the physical line above, None after a blank
    for raw in block:
        line = table.selected.sub(lambda m: m.group(1) + " " * (1 + len(m.group(2))), raw)
        text = line.strip()
        if not text:
            previous = None
            continue
        indent = len(line) - len(line.lstrip())
        choice = table.option.match(text) is not None
        if (
            previous is not None
            and out
            and not choice
            and not out[-1].startswith("$")  # a command line stays as drawn: see policy
            and (indent > first_indent or _overflows(previous, text, width))
        ):
            out[-1] = _join(out[-1], text)
        else:
            out.append(text)
            first_indent = indent
        previous = line
    return out


def _overflows(previous: str, text: str, width: int) -> bool:
    """Whether ``text``'s first word could not have fitted after ``previous``."""
    word = text.split()[0]
    if _hyphen_break(previous):
        return len(previous) + len(word) > width
    return len(previous) + 1 + len(word) > width


def _hyphen_break(text: str) -> bool:
    return len(text) >= 2 and text.endswith("-") and text[-2].isalnum()


def _join(head: str, tail: str) -> str:
    return head + tail if _hyphen_break(head) else f"{head} {tail}"


def _last_error(turn: Sequence[str], table: Patterns) -> str | None:
    """The text of the last ``■`` line in the turn, wrapped lines joined."""
    for index in range(len(turn) - 1, -1, -1):
        found = table.error.match(turn[index])
        if found is None:
            continue
        text = found.group(1).strip()
        for line in turn[index + 1 :]:
            if not line.strip():
                break
            text = _join(text, line.strip())
        return text
    return None
