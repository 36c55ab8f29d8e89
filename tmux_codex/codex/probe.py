"""Asking a Codex binary its version (``--version``), once per binary: cached by real path."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from tmux_codex.codex.version import parse_version

#: Where :func:`installed_version` keeps what it learned, in the state directory.
VERSION_CACHE = "codex-versions.json"

_versions: dict[str, tuple[list[int], str | None]] = {}


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
