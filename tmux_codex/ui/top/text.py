"""Text that fits: terminal columns, cutting to a width, one line."""

from __future__ import annotations

import unicodedata


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cells(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    return sum(_char_width(ch) for ch in text)


def fit(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns, ending in ``…`` when cut."""
    if width <= 0:
        return ""
    if cells(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        size = _char_width(ch)
        if used + size > width - 1:
            break
        out.append(ch)
        used += size
    return "".join(out) + "…"


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
