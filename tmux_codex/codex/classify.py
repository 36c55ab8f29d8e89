"""Classify a live Codex pane from its screen text and title.

Pure: no tmux, no I/O. The caller handles dead panes (``done``/``failed``)
itself; :func:`classify` only says whether a live Codex is ``working``,
``waiting`` at a prompt (and which one), or ``idle``.

Every screen text this module knows lives in one :class:`Patterns` table per
Codex version (:data:`PATTERNS_0_169_0`), picked by :func:`patterns_for` with
the version a task runs (``Task.codex_version``, learned once per binary when
it starts). A version with no table of its own is read with the newest table
not newer than it: Codex 0.171.0 draws every screen as 0.169.0 did, so it has
none. A Codex that draws something differently means a new table, not new code.

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

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tmux_codex.codex.version import version_key

__all__ = [
    "PATTERNS",
    "PATTERNS_0_169_0",
    "Patterns",
    "PromptPattern",
    "Verdict",
    "announcements",
    "classify",
    "decide",
    "drawn_words",
    "is_progress",
    "loop_key",
    "output_lines",
    "patterns_for",
    "repeated_block",
    "visible_text",
]

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


@dataclass(frozen=True)
class PromptPattern:
    """One kind of prompt: where it starts, and what shows it is still up."""

    reason: str
    heading: re.Pattern[str]  # searched per screen line: the line the question is on
    confirm: re.Pattern[str]  # searched in the prompt's joined text: it is complete and live


@dataclass(frozen=True)
class Patterns:
    """Everything :func:`classify` recognises on the screen of one Codex version."""

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

#: Pattern tables by the Codex version they were written against.
PATTERNS: dict[str, Patterns] = {PATTERNS_0_169_0.version: PATTERNS_0_169_0}


@functools.lru_cache(maxsize=16)
def patterns_for(version: str | None = None) -> Patterns:
    """The table for ``version``: the newest one written for it or an older Codex.

    ``None`` (not known) means the newest table; a version older than every
    table gets the oldest one.
    """
    tables = sorted(PATTERNS.values(), key=lambda table: version_key(table.version))
    if version is None:
        return tables[-1]
    if version in PATTERNS:
        return PATTERNS[version]
    wanted = version_key(version)
    older = [table for table in tables if version_key(table.version) <= wanted]
    return older[-1] if older else tables[0]


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


#: Escape sequences and control bytes; what is left is text a terminal draws.
_CONTROL = re.compile(
    rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, Codex's state
    rb"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    rb"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, modes
    rb"|\x1b[ -/]*[0-~]"  # other escapes
    rb"|[\x00-\x08\x0b-\x1f\x7f]"
)


def visible_text(data: bytes) -> str:
    """The text raw terminal bytes draw, each escape sequence turned into a space."""
    return _CONTROL.sub(b" ", data).decode("utf-8", errors="replace")


def announcements(data: bytes, patterns: Patterns | None = None) -> list[str]:
    """Codex's state escapes in raw bytes, in order (``working:app=codex``, ...)."""
    table = patterns if patterns is not None else patterns_for()
    return [m.group(1).decode(errors="replace") for m in table.state_escape.finditer(data)]


def drawn_words(data: bytes, patterns: Patterns | None = None) -> list[str]:
    """The words raw bytes draw, less what the live status line draws.

    A Codex waiting on its model redraws ``• Working (43s • esc to interrupt)``
    every second, blinks the bullet and spins the title, forever. Those bytes
    draw only the status line's own words (or pieces of them, as the renderer
    redraws changed cells only), timer tokens and bullets; escapes draw
    nothing. Every other word is returned; one shortened with ``…`` (a long
    path at a narrow width) as its pieces.
    """
    table = patterns if patterns is not None else patterns_for()
    pieces = _status_pieces(table)
    timer = table.status_timer.fullmatch
    text = visible_text(data).replace("…", " ")
    # A timer token has a digit or a bullet: a word of letters is never one.
    return [w for w in text.split() if w not in pieces and (w.isalpha() or timer(w) is None)]


@functools.lru_cache(maxsize=16)
def _status_pieces(table: Patterns) -> frozenset[str]:
    """Every piece of the status line's words (and the replacement character)."""
    return frozenset(
        {"\ufffd"}
        | {
            word[start:end]
            for word in table.status_words
            for start in range(len(word))
            for end in range(start + 1, len(word) + 1)
        }
    )


def is_progress(data: bytes, patterns: Patterns | None = None) -> bool:
    """Whether new raw bytes draw anything but the live timer (see :func:`drawn_words`).

    Streamed text, a tool's output, a new screen are; so is a repaint of the
    same screen, which only :class:`tmux_codex.progress.Seen` tells apart.
    """
    return bool(drawn_words(data, patterns))


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


#: Looping: a block of at most this many lines...
LOOP_MAX_BLOCK = 12
#: ...repeated back to back at least this many times (a single line: twice as often).
LOOP_REPEATS = 4
#: Lines shorter than this (after normalising) are left out: blank lines, bullets, timers.
_LOOP_MIN_LINE = 12


#: Escapes that only colour text or set a title: they take no room in a printed line.
_NO_ROOM = re.compile(rb"\x1b\[[0-9;:]*m|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
#: Numbers that measure time: durations (``5ms``, ``2.1 s``, ``1m``), clock times and
#: dates. Two runs of the same command differ in them; a counter is not one of them.
_TIMES = re.compile(
    r"(?<![\w.])(?:"
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?Z?)?"
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
    r"|\d+(?:[.,]\d+)?\s?(?:ns|[µu]s|ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)"
    r")(?!\w)"
)


def output_lines(data: bytes) -> list[str]:
    """The lines raw bytes print, as printed: escapes out, ends trimmed, short lines left out.

    Colours and titles vanish; an escape that moves the cursor is a space.
    """
    lines = []
    for line in re.split(r"[\r\n]+", visible_text(_NO_ROOM.sub(b"", data))):
        text = line.strip()
        if len(loop_key(text)) >= _LOOP_MIN_LINE:
            lines.append(text)
    return lines


def loop_key(line: str) -> str:
    """A printed line as the loop guard compares it: spacing and times do not count.

    Every other digit does: ``progress line 000123`` and ``000124`` are two lines.
    """
    return " ".join(_TIMES.sub("#", line).split())


def repeated_block(lines: Sequence[str]) -> tuple[int, int] | None:
    """``(block size, times)`` when the last lines are one block repeated over and over.

    The seed workflow's "looping or hallucinating" agent: the same few lines of
    output again and again. Only back-to-back copies at the very end count.
    """
    for size in range(1, LOOP_MAX_BLOCK + 1):
        need = LOOP_REPEATS * (2 if size == 1 else 1)
        if len(lines) < size * need:
            break
        block = list(lines[-size:])
        times = 1
        while (
            len(lines) >= size * (times + 1)
            and list(lines[-size * (times + 1) : len(lines) - size * times]) == block
        ):
            times += 1
        if times >= need and len(set(block)) == size:
            return size, times
    return None
