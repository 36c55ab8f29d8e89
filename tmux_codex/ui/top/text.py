"""Text that fits: terminal columns (``wcwidth``), cutting to a width, one line."""

from __future__ import annotations

import unicodedata

from wcwidth import wcswidth, wcwidth

#: What a cut line ends in.
ELLIPSIS = "…"


def cells(text: str) -> int:
    """How many terminal columns ``text`` takes, at most.

    Measured with ``wcwidth``: wide (CJK, emoji) characters take two columns,
    combining and other zero-width ones none. Terminals disagree on emoji
    sequences: some draw a sequence as one picture (``wcwidth.wcswidth``: a
    ZWJ sequence, or a heart with VS16, takes two), others, tmux 3.3a and
    curses among them, add up its code points (a thumb with a skin tone
    takes four). The larger of the two counts is taken, so a line never runs
    past the edge. A control character (top makes each a space before it
    measures) counts as one column, like that space, rather than making the
    width unknown.
    """
    apart = 0  # code point by code point
    controls = False
    for ch in text:
        width = wcwidth(ch)
        controls = controls or width < 0
        apart += 1 if width < 0 else width
    if controls:
        text = "".join(" " if wcwidth(ch) < 0 else ch for ch in text)
    return max(wcswidth(text), apart)


def fit(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns, ending in ``…`` when cut."""
    if width <= 0:
        return ""
    if cells(text) <= width:
        return text
    # The longest start that fits with the ellipsis: text[:low] does, text[:high] does not.
    low, high = 0, len(text)
    while high - low > 1:
        middle = (low + high) // 2
        if cells(text[:middle] + ELLIPSIS) <= width:
            low = middle
        else:
            high = middle
    return text[:low] + ELLIPSIS


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` fitted to ``width`` columns and padded with spaces to fill them."""
    text = fit(text, width)
    gap = " " * max(width - cells(text), 0)
    return gap + text if right else text + gap


def one_line(text: str | None) -> str:
    """``text`` on one line: control characters and runs of white space become one space."""
    if not text:
        return ""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc":
            kept.append(" ")
        elif category not in ("Cf", "Cs", "Co"):
            kept.append(ch)
    return " ".join("".join(kept).split())
