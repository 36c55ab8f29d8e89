"""Token usage: what Codex counted, from its rollout file or from the log.

The rollout's ``token_count`` events hold every field (:func:`usage` reads one
``total_token_usage`` object); the line Codex prints on exit is the fallback
(:func:`parse_tokens`): the TUI's ``Token usage: …`` has the breakdown,
``codex exec``'s ``tokens used`` only the total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Tokens", "parse_tokens", "usage"]


@dataclass(frozen=True)
class Tokens:
    """Tokens a session used, as Codex counts them.

    ``input`` includes ``cached_input``; ``total`` is ``input + output``;
    ``reasoning_output`` is part of ``output``. From the rollout every field
    is known; from the line ``codex exec`` prints on exit only ``total``.
    """

    input: int | None
    output: int | None
    total: int
    cached_input: int | None = None
    reasoning_output: int | None = None

    def brief(self) -> dict[str, int | None]:
        """What a task's ``tokens`` JSON holds: ``input``, ``output``, ``total``."""
        return {"input": self.input, "output": self.output, "total": self.total}

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "total": self.total,
            "cached_input": self.cached_input,
            "reasoning_output": self.reasoning_output,
        }


# -- from the log ---------------------------------------------------------------------

_TUI_TOKENS = re.compile(
    r"Token usage(?: so far)?:\s*total=(?P<total>[\d,]+)\s+input=(?P<input>[\d,]+)"
    r"(?:\s*\(\+\s*(?P<cached>[\d,]+) cached\))?\s+output=(?P<output>[\d,]+)"
    r"(?:\s*\(reasoning (?P<reasoning>[\d,]+)\))?"
)
_EXEC_TOKENS = re.compile(r"^tokens used:?\s*\n?\s*(?P<total>[\d,]+)\s*$", re.MULTILINE)


def _int(value: str | None) -> int:
    return int(value.replace(",", "")) if value else 0


def parse_tokens(text: str) -> Tokens | None:
    """The last token count Codex printed in a log, or ``None``.

    The TUI prints ``Token usage: total=… input=… (+ … cached) output=…
    (reasoning …)`` on exit, where ``input`` leaves out the cached input;
    ``codex exec`` prints ``tokens used`` and the total on the next line.
    """
    found: list[tuple[int, Tokens]] = []
    for m in _TUI_TOKENS.finditer(text):
        cached = _int(m["cached"])
        output = _int(m["output"])
        total_input = _int(m["input"]) + cached
        tokens = Tokens(total_input, output, total_input + output, cached, _int(m["reasoning"]))
        found.append((m.start(), tokens))
    for m in _EXEC_TOKENS.finditer(text):
        found.append((m.start(), Tokens(None, None, _int(m["total"]))))
    return max(found, key=lambda item: item[0])[1] if found else None


# -- from the rollout -----------------------------------------------------------------


def _number(fields: dict[str, Any], key: str) -> int | None:
    item = fields.get(key)
    return item if isinstance(item, int) and not isinstance(item, bool) else None


def usage(value: object) -> Tokens | None:
    """A rollout's token usage object (``{"input_tokens": …, …}``); None when it is not one."""
    if not isinstance(value, dict):
        return None
    inp, out = _number(value, "input_tokens"), _number(value, "output_tokens")
    total = _number(value, "total_tokens")
    if total is None:
        if inp is None or out is None:
            return None
        total = inp + out
    cached, reasoning = (
        _number(value, "cached_input_tokens"),
        _number(value, "reasoning_output_tokens"),
    )
    return Tokens(inp, out, total, cached, reasoning)
