"""Codex's session files: where they are and which one a task's is."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tmux_codex.codex.tokens import Tokens, usage

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


#: A session id (a UUID).
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def find_rollout(codex_home: Path, session_id: str) -> Path | None:
    """The rollout file of a session: ``sessions/YYYY/MM/DD/rollout-…-<id>.jsonl``.

    The day folders around the time inside a version-7 session id are looked
    at first, then every day; archived sessions (``archived_sessions/``) too.
    With several files for one id the newest wins.
    """
    sid = session_id.strip().lower()
    if not re.fullmatch(_UUID, sid):
        return None
    name = f"rollout-*-{sid}.jsonl"
    sessions = codex_home / "sessions"
    folders: list[Path] = []
    day = _uuid7_day(sid)
    if day is not None:
        for offset in (0, -1, 1):
            d = day + timedelta(days=offset)
            folders.append(sessions / f"{d:%Y}" / f"{d:%m}" / f"{d:%d}")
    for folder in folders:
        found = sorted(folder.glob(name)) if folder.is_dir() else []
        if found:
            return _newest(found)
    for root in (sessions, codex_home / "archived_sessions"):
        found = sorted(root.rglob(name)) if root.is_dir() else []
        if found:
            return _newest(found)
    return None


def _newest(paths: list[Path]) -> Path:
    def mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    return max(paths, key=mtime)


def _uuid7_day(sid: str) -> datetime | None:
    """The day a version-7 UUID was made (its first 48 bits are Unix milliseconds)."""
    if sid[14] != "7":
        return None
    millis = int(sid.replace("-", "")[:12], 16)
    try:
        return datetime.fromtimestamp(millis / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


#: How much of a rollout's end :func:`rollout_tokens` reads (its last ``token_count``).
TOKENS_TAIL = 1 << 20


def rollout_tokens(path: Path) -> Tokens | None:
    """The session's token totals: the last ``token_count`` in the rollout's last MiB."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(size - TOKENS_TAIL, 0))
            tail = fh.read(TOKENS_TAIL)
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        if b'"token_count"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the first line of the tail may be cut, or the last half written
        payload = entry.get("payload") if isinstance(entry, dict) else None
        info = payload.get("info") if isinstance(payload, dict) else None
        found = usage(info.get("total_token_usage")) if isinstance(info, dict) else None
        if found is not None:
            return found
    return None


def task_tokens(codex_home: str | None, session_id: str | None) -> Tokens | None:
    """The tokens a task's Codex session used so far, from its rollout; None if unknown."""
    if not codex_home or not session_id:
        return None
    path = find_rollout(Path(codex_home), session_id)
    return rollout_tokens(path) if path is not None else None
