"""Facts about the Codex CLI that tmux-codex is written against."""

from __future__ import annotations

#: The Codex CLI version whose screens, titles and flags the patterns follow.
CODEX_VERSION = "0.169.0"

#: The npm package that ships the Codex CLI.
CODEX_NPM_PACKAGE = "@openai/codex"

#: How a person installs the pinned Codex CLI.
INSTALL_HINT = f"npm install -g {CODEX_NPM_PACKAGE}@{CODEX_VERSION}"
