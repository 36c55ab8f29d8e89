"""Permission requests a task's PermissionRequest hook recorded, and the screen (pure).

Codex may ask about several tool calls of one turn at once: their hooks run
before any prompt is drawn, then the prompts come one after another. Each
request is kept (the task's ``hook_request``, a JSON list) with the complete
command. While a prompt is on screen, its text is the request it shows —
found by its command (or, for an edit, its files), never by order — and when
no single request fits, the screen's own text stands. A request the screen
never showed is ``waiting`` for :data:`GRACE` seconds after its hook ran
(Codex draws the prompt as soon as the hook is done); one that was shown and
went away was answered.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from tmux_codex.codex.classify import Verdict
from tmux_codex.core.models import parse_stamp

#: A request not on screen yet counts as ``waiting`` this long after its hook ran.
GRACE = 5.0
#: The files a patch touches.
_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Request:
    reason: str  # "approval" or "edit"
    prompt: str  # the prompt text, with the complete command or patch
    command: str  # the command or patch, as Codex gave it
    at: str  # when the hook ran
    shown: bool = False  # a look saw its prompt on screen


def load(raw: str | None) -> list[Request]:
    """The requests in a task's ``hook_request``; none when it is empty or unreadable."""
    if not raw:
        return []
    try:
        data = json.loads(raw)
        items = data if isinstance(data, list) else [data]
        return [
            Request(
                reason=str(item["reason"]),
                prompt=str(item["prompt"]),
                command=str(item.get("command", "")),
                at=str(item.get("at", "")),
                shown=bool(item.get("shown", False)),
            )
            for item in items
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def dump(requests: list[Request]) -> str | None:
    return json.dumps([asdict(r) for r in requests]) if requests else None


def _words(text: str) -> str:
    return " ".join(text.split())


_OPTION = re.compile(r"^(?:›\s*)?1\.\s")
_CUT = re.compile(r"\s*(?:\[…[^\]]*\].*|…)$")


def _screen_command(prompt_text: str) -> tuple[str, bool] | None:
    """The command an approval prompt shows, and whether the screen cut it; or None.

    Codex draws the command right above the answer options: the last ``$`` line
    before them and the lines after it (a line of the model's reason may start
    with ``$`` too, above).
    """
    lines = [line.strip() for line in prompt_text.splitlines()]
    end = next((i for i, line in enumerate(lines) if _OPTION.match(line)), len(lines))
    start = next((i for i in range(end - 1, -1, -1) if lines[i].startswith("$")), None)
    if start is None:
        return None
    shown = " ".join([lines[start][1:], *lines[start + 1 : end]])
    cut = _CUT.search(shown)
    return (_words(shown[: cut.start()]) if cut else _words(shown)), cut is not None


def matches(request: Request, reason: str | None, prompt_text: str | None) -> bool:
    """Whether the prompt on screen is about ``request``."""
    if reason != request.reason or not prompt_text:
        return False
    if request.reason == "edit":
        files = _PATCH_FILE.findall(request.command)
        return bool(files) and all(f.strip().rsplit("/", 1)[-1] in prompt_text for f in files)
    found = _screen_command(prompt_text)
    if found is None or not found[0]:
        return False
    shown, cut = found
    # The screen wraps a long command (spaces differ), or cuts it ("[… 48 lines]"):
    # then what it shows is the start of it; otherwise all of it.
    full = _words(request.command)
    return full.startswith(shown) if cut else full == shown


def combine(
    requests: list[Request], verdict: Verdict, now: datetime
) -> tuple[Verdict, list[Request]]:
    """The verdict with the hooks' requests taken in, and the requests to keep."""
    if not requests:
        return verdict, []
    if verdict.state == "waiting" and verdict.reason in ("approval", "edit"):
        text = verdict.prompt_text
        fits = [i for i, r in enumerate(requests) if matches(r, verdict.reason, text)]
        if len(fits) != 1:
            return verdict, requests  # none, or no telling which: the screen's own text
        found = requests[fits[0]]
        kept = [replace(r, shown=True) if i == fits[0] else r for i, r in enumerate(requests)]
        return Verdict("waiting", found.reason, found.prompt), kept
    if verdict.state in ("working", "starting"):
        # A request whose prompt was shown and is gone was answered; the others wait.
        left = [r for r in requests if not r.shown]
        for request in left:
            at = parse_stamp(request.at)
            if at is not None and abs((now - at).total_seconds()) < GRACE:
                return Verdict("waiting", request.reason, request.prompt), left
        return verdict, left
    return verdict, []  # idle, another kind of prompt, ended: the turn's requests are over


def answered(requests: list[Request], command: str) -> list[Request]:
    """The requests without the one a PostToolUse says ran (the first with that command)."""
    for index, request in enumerate(requests):
        if request.reason == "approval" and request.command == command:
            return requests[:index] + requests[index + 1 :]
    return requests
