"""An isolated ``CODEX_HOME`` whose Codex talks to the fake model server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

#: The environment variable Codex reads the fake provider's key from.
API_KEY_ENV = "MOCK_API_KEY"


def _toml_str(value: str) -> str:
    # A JSON string is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def codex_config(
    base_url: str,
    trusted: Iterable[Path] = (),
    stream_idle_timeout_ms: int = 5000,
) -> str:
    """The text of a ``config.toml`` pointing Codex at ``base_url``.

    ``trusted`` directories get ``trust_level = "trusted"`` so Codex skips its
    "Trust this folder?" menu there.
    """
    lines = [
        'model = "mock-model"',
        'model_provider = "mock"',
        "check_for_update_on_startup = false",
        "",
        "[model_providers.mock]",
        'name = "mock"',
        f"base_url = {_toml_str(base_url)}",
        'wire_api = "responses"',
        f'env_key = "{API_KEY_ENV}"',
        "request_max_retries = 0",
        "stream_max_retries = 0",
        f"stream_idle_timeout_ms = {stream_idle_timeout_ms}",
    ]
    for path in trusted:
        lines += ["", f"[projects.{_toml_str(str(path))}]", 'trust_level = "trusted"']
    return "\n".join(lines) + "\n"


def write_codex_home(
    home: Path,
    base_url: str,
    trusted: Iterable[Path] = (),
    stream_idle_timeout_ms: int = 5000,
) -> Path:
    """Create (or rewrite) ``home/config.toml``; returns the config path."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = home / "config.toml"
    # Whole or not at all: a Codex starting meanwhile must never read half a file
    # (it would show its sign-in menu, or no trust for its folder).
    partial = home / f".config.toml.{os.getpid()}.tmp"
    partial.write_text(codex_config(base_url, trusted, stream_idle_timeout_ms), encoding="utf-8")
    os.replace(partial, config)
    return config
