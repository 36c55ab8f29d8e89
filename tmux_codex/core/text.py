"""Text safe to print on a terminal: what a model or a user wrote, its controls made visible.

A task's name, prompt, last message and prompt text may hold escape sequences
(an OSC 52 clipboard write, a title change, a line erased) or other control
characters (a carriage return that makes ``touch x #\r$ ls`` look like
``$ ls``). Printed raw they would act on the reader's terminal; dropped, they
would hide what bash will get. JSON output escapes them itself; text output
goes through :func:`printable`, which shows each as a symbol (``␛``, ``␍``).
"""

from __future__ import annotations


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (␛ for ESC, ␍ for CR)
    if code == 0x7F:
        return "␡"
    return f"\\x{code:02x}"  # C1 (0x80-0x9f): no symbols of their own


def printable(text: str, keep: str = "\n\t") -> str:
    """``text`` with every control character but those in ``keep`` shown as a symbol."""
    return "".join(
        _visible(ch) if (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F) and ch not in keep else ch
        for ch in text
    )


def count(n: int | None) -> str:
    """A count in a few characters: ``950``, ``12.3k``, ``4.5M``; ``-`` when unknown."""
    if n is None:
        return "-"
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            value = f"{n / size:.1f}".removesuffix(".0") if n < 100 * size else str(n // size)
            return value + unit
    return str(n)


def tokens_text(tokens: dict[str, int | None] | None) -> str:
    """A task's tokens in a column: the total, ``-`` while unknown."""
    return count(tokens.get("total")) if tokens else "-"
