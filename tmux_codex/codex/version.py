"""Facts about the Codex CLI that tmux-codex is written against: versions."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

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

#: Where :func:`installed_version` keeps what it learned, in the state directory.
VERSION_CACHE = "codex-versions.json"

_versions: dict[str, tuple[list[int], str | None]] = {}


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


def ask_version(binary: str, timeout: float = 30) -> str | None:
    """Run ``binary --version`` (~0.1 s for the npm package); its version, or None."""
    import subprocess

    try:
        out = subprocess.run(
            [binary, "--version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_version(out.stdout) or parse_version(out.stderr)


def installed_version(binary: str, cache_dir: Path | None = None) -> str | None:
    """The version of the Codex at ``binary`` (an absolute path), learned once.

    Asked with ``--version`` the first time; remembered, per real path and
    that file's size, mtime and inode (a reinstall changes them), in this
    process and in ``cache_dir/codex-versions.json``, so later calls cost a
    ``stat``. None when the binary does not say.
    """
    try:
        real = os.path.realpath(binary)
        info = os.stat(real)
    except OSError:
        return None
    stamp = [info.st_size, info.st_mtime_ns, info.st_ino]
    known = _versions.get(real)
    if known is not None and known[0] == stamp:
        return known[1]
    cache = cache_dir / VERSION_CACHE if cache_dir is not None else None
    stored: dict[str, object] = {}
    if cache is not None:
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(cache.read_text(encoding="utf-8"))
            stored = loaded if isinstance(loaded, dict) else {}
        entry = stored.get(real)
        if isinstance(entry, dict) and entry.get("stamp") == stamp:
            version = entry.get("version")
            found = version if isinstance(version, str) else None
            _versions[real] = (stamp, found)
            return found
    found = ask_version(binary)
    _versions[real] = (stamp, found)
    if cache is not None and found is not None and cache.parent.is_dir():
        import tempfile

        stored[real] = {"stamp": stamp, "version": found}
        with contextlib.suppress(OSError):
            fd, tmp = tempfile.mkstemp(prefix=".codex-versions-", dir=cache.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(stored, fh)
            os.replace(tmp, cache)
    return found


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
