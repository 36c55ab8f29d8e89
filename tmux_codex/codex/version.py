"""Facts about the Codex CLI that tmux-codex is written against: its versions (pure)."""

from __future__ import annotations

import re

#: The Codex CLI version the tests run by default (``scripts/install-codex``).
CODEX_VERSION = "0.169.0"

#: Every Codex version whose screens were captured (``tests/fixtures/codex-<version>/``)
#: and that the classifier tests and the end-to-end suite passed on. A version is
#: added here once ``TMUX_CODEX_TEST_CODEX=PATH scripts/test`` passes on it.
CAPTURED_VERSIONS = ("0.169.0", "0.171.0")

#: The npm package that ships the Codex CLI.
CODEX_NPM_PACKAGE = "@openai/codex"

#: How a person installs the pinned Codex CLI.
INSTALL_HINT = f"npm install -g {CODEX_NPM_PACKAGE}@{CODEX_VERSION}"

#: A version as ``codex --version`` prints it (``codex-cli 0.171.0``).
_VERSION = re.compile(r"\b(\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.]+)?)")


def version_key(version: str) -> tuple[int, ...]:
    """``"v0.171.0"`` → ``(0, 171, 0)``: numeric parts, for ordering versions."""
    parts: list[int] = []
    for part in version.strip().lstrip("v").split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def parse_version(text: str) -> str | None:
    """The version in ``codex --version``'s output, or None."""
    match = _VERSION.search(text)
    return match.group(1) if match else None


def capture_status(version: str) -> tuple[str, str | None]:
    """How ``version`` stands against :data:`CAPTURED_VERSIONS`.

    ``("captured", version)``; ``("newer", newest capture)``; ``("older", oldest
    capture)``; or ``("between", the newest capture older than it)``.
    """
    if version in CAPTURED_VERSIONS:
        return "captured", version
    ordered = sorted(CAPTURED_VERSIONS, key=version_key)
    wanted = version_key(version)
    if wanted > version_key(ordered[-1]):
        return "newer", ordered[-1]
    if wanted < version_key(ordered[0]):
        return "older", ordered[0]
    below = [v for v in ordered if version_key(v) <= wanted]
    return "between", below[-1]
