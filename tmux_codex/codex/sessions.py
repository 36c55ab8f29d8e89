"""Codex's session files: where they are and which one a task's is."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

#: exec prints its session id in the header on stderr: ``session id: 0199…``.
_EXEC_SESSION = re.compile(r"session id:\s*([0-9a-fA-F]{8}-[0-9a-fA-F-]{27})")

#: How early a session may seem to start before the task (clocks, rounding).
_SLACK = timedelta(seconds=5)


def codex_home(env: Mapping[str, str]) -> Path:
    """Where Codex keeps its config and sessions for this environment."""
    value = env.get("CODEX_HOME")
    return Path(value).expanduser() if value else Path.home() / ".codex"


def exec_session_id(text: str) -> str | None:
    """The session id in ``codex exec``'s header, if ``text`` has it."""
    match = _EXEC_SESSION.search(text)
    return match.group(1).lower() if match else None


def _stamp(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def find_session(
    home: Path,
    workdir: str,
    since: str,
    prompt: str | None = None,
    taken: frozenset[str] = frozenset(),
) -> str | None:
    """The id of the session Codex recorded for a task: its rollout file.

    Rollouts live in ``HOME/sessions/YYYY/MM/DD/rollout-…-<id>.jsonl``; the
    first line (``session_meta``) has the session's ``cwd`` and start time.
    The task's is the earliest one in ``workdir`` that started after the task
    (``since``) and is not ``taken`` by another task; with several, the one
    whose text holds the task's prompt wins.
    """
    start = _stamp(since)
    if start is None:
        return None
    found: list[tuple[datetime, str, Path]] = []
    day = start.date()
    today = datetime.now(timezone.utc).date()
    while day <= today:
        folder = home / "sessions" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
        for path in sorted(folder.glob("rollout-*.jsonl")) if folder.is_dir() else []:
            try:
                if path.stat().st_mtime < start.timestamp() - _SLACK.total_seconds():
                    continue  # last written before the task began: not its session
                with open(path, encoding="utf-8") as fh:
                    meta = json.loads(fh.readline()).get("payload", {})
            except (OSError, ValueError, AttributeError):
                continue
            sid = str(meta.get("id") or meta.get("session_id") or "")
            began = _stamp(str(meta.get("timestamp", "")))
            if not sid or sid in taken or meta.get("cwd") != workdir or began is None:
                continue
            if began >= start - _SLACK:
                found.append((began, sid, path))
        day += timedelta(days=1)
    found.sort()
    if not prompt:
        return found[0][1] if found else None
    # Several tasks may start in one workdir: only the file holding the task's
    # own prompt is its session (none yet: try again later).
    needle = json.dumps(prompt[:200], ensure_ascii=False)[1:-1]
    for _began, sid, path in found:
        try:
            if needle in path.read_text(encoding="utf-8", errors="replace"):
                return sid
        except OSError:
            continue
    return None
