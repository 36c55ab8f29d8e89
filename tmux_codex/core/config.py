"""The config file (TOML) as frozen dataclasses, strictly validated.

Unknown keys and wrong types are errors that name the key and the file; a
TOML syntax error names the file and the line. Defaults are the dataclass
defaults, so the documentation can be generated from them.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmux_codex.core.errors import ConfigError


@dataclass(frozen=True)
class CodexConfig:
    command: str = "codex"
    mode: str = "exec"
    exec_args: tuple[str, ...] = ("--sandbox", "workspace-write", "--skip-git-repo-check")
    tui_args: tuple[str, ...] = ("-a", "on-request", "--no-alt-screen", "--no-daemon")


@dataclass(frozen=True)
class TmuxConfig:
    session: str = "codex"
    socket: str = ""


@dataclass(frozen=True)
class MonitorConfig:
    stall_after: float = 300.0
    poke_after: float = 600.0


@dataclass(frozen=True)
class PolicyConfig:
    trust_workdir: bool = True
    approve: str = "never"
    allow_commands: tuple[str, ...] = ()
    deny_commands: tuple[str, ...] = ("rm -rf", "sudo ", "git push")
    max_resumes: int = 0
    kill_after: float = 0.0


@dataclass(frozen=True)
class FleetConfig:
    max_parallel: int = 0
    worktree_dir: str = ""
    branch_prefix: str = "codex/"


@dataclass(frozen=True)
class NotifyConfig:
    tmux: bool = True
    bell: bool = False
    desktop: bool = False
    command: str = ""
    report: bool = False


@dataclass(frozen=True)
class Config:
    codex: CodexConfig = field(default_factory=CodexConfig)
    tmux: TmuxConfig = field(default_factory=TmuxConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)


_SECTIONS: dict[str, type[Any]] = {
    "codex": CodexConfig,
    "tmux": TmuxConfig,
    "monitor": MonitorConfig,
    "policy": PolicyConfig,
    "fleet": FleetConfig,
    "notify": NotifyConfig,
}
_CHOICES = {("codex", "mode"): ("exec", "tui"), ("policy", "approve"): ("never", "allowlist")}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


#: The longest duration a setting may have (a timer beyond it could not be kept).
MAX_DURATION = 30 * 86400.0


def parse_duration(value: object) -> float:
    """Seconds from ``"5m"``, ``"30s"``, ``"1h"``, ``"250ms"`` or a number of seconds."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError("a finite duration, 0 or more")
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds is None:
        raise ValueError('a duration like "5m", "30s" or a number of seconds')
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        raise ValueError("a duration of at most 30 days (720h)")
    return seconds


def _convert(section: str, key: str, default: object, value: object) -> object:
    where = f"[{section}] {key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false")
        return value
    if isinstance(default, float):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{where} must be {exc}") from None
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where} must be a whole number, 0 or more")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where} must be a list of strings")
        if key.endswith("_commands"):
            for pattern in value:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{where}: {pattern!r} is not a valid regex: {exc}") from None
        return tuple(value)
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string")
    if (section, key) == ("tmux", "session") and (
        not value or value.isspace() or re.search(r"[:.\\$\x00-\x1f\x7f-\x9f]", value)
    ):
        # tmux changes a session name holding : . \ $NAME or a control character
        # (so tmux-codex would not find it again), and reads "$N" as a session id.
        raise ValueError(
            f"{where} must be a tmux session name: not empty, without : . \\ $ "
            f"or control characters (not {value!r})"
        )
    bad_branch = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
    if (section, key) == ("fleet", "branch_prefix") and bad_branch.search(value):
        raise ValueError(f"{where} must be usable in a git branch name (not {value!r})")
    choices = _CHOICES.get((section, key))
    if choices and value not in choices:
        raise ValueError(f"{where} must be one of {', '.join(choices)}")
    return value


def from_dict(data: dict[str, Any]) -> Config:
    """Build a Config from parsed TOML; ``ValueError`` names the bad key."""
    sections: dict[str, Any] = {}
    for name, table in data.items():
        cls = _SECTIONS.get(name)
        if cls is None:
            raise ValueError(f"unknown section [{name}] (known: {', '.join(_SECTIONS)})")
        if not isinstance(table, dict):
            raise ValueError(f"{name} must be a table: [{name}]")
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        values = {}
        for key, value in table.items():
            if key not in defaults:
                raise ValueError(f"unknown key {key!r} in [{name}] (known: {', '.join(defaults)})")
            values[key] = _convert(name, key, defaults[key], value)
        sections[name] = cls(**values)
    return Config(**sections)


def parse_toml(text: str) -> dict[str, Any]:
    """TOML text as data; ``ValueError`` says what is wrong (and on which line)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid TOML: {exc}") from None
    except RecursionError:
        raise ValueError("it nests arrays or tables too deeply") from None


def load(path: Path) -> Config:
    """Read the config file at ``path``; defaults when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = parse_toml(text)
    except ValueError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    try:
        return from_dict(data)
    except ValueError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


#: What each setting means: the comments of :func:`defaults_as_toml` (README's reference).
DOCS: dict[tuple[str, str], str] = {
    ("codex", "command"): "the codex command, or a path (TMUX_CODEX_CODEX overrides)",
    ("codex", "mode"): "exec | tui: the default mode of 'start'",
    ("codex", "exec_args"): "flags for 'codex exec' (before --codex-arg values)",
    ("codex", "tui_args"): "flags for the TUI (--no-alt-screen --no-daemon are always added)",
    ("tmux", "session"): "the tmux session that holds task windows",
    ("tmux", "socket"): "tmux -L name; empty = the default server (TMUX_CODEX_SOCKET overrides)",
    ("monitor", "stall_after"): "working, but no real output this long: stalled",
    ("monitor", "poke_after"): "then one Enter for a stalled TUI task; 0 = never",
    ("policy", "trust_workdir"): "answer the trust menu for the task's own workdir",
    ("policy", "approve"): "never | allowlist: answer command approvals unattended",
    ("policy", "allow_commands"): "regexes; each simple command must match one (allowlist)",
    ("policy", "deny_commands"): "regexes searched in the command and each part; deny wins",
    ("policy", "max_resumes"): "automatic resumes of a lost or failed TUI task",
    ("policy", "kill_after"): "kill a task stalled or looping this long; 0 = never",
    ("fleet", "max_parallel"): "live tasks at once; 0 = no limit; more wait 'queued'",
    ("fleet", "worktree_dir"): "where --worktree puts worktrees; empty = <state>/worktrees",
    ("fleet", "branch_prefix"): "a worktree task's branch: <prefix><name>",
    ("notify", "tmux"): "a tmux message to attached clients + the window name mark",
    ("notify", "bell"): "a bell on the attached clients' terminals",
    ("notify", "desktop"): "notify-send, where installed",
    ("notify", "command"): "run with the event as JSON on stdin (sh -c)",
    ("notify", "report"): "when a task ends, its report goes into that JSON",
}


def defaults_as_toml() -> str:
    """The default configuration as TOML text, each key with what it means."""
    lines: list[str] = []
    config = Config()
    for name in _SECTIONS:
        lines.append(f"[{name}]")
        fields = dataclasses.fields(getattr(config, name))
        values = {f.name: f"{f.name} = {_toml_value(f.default)}" for f in fields}
        width = max(len(v) for v in values.values())
        for f in fields:
            doc = DOCS.get((name, f.name))
            text = values[f.name]
            lines.append(f"{text:<{width}}  # {doc}" if doc else text)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _toml_value(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return json.dumps(_format_duration(value))
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


def _format_duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
