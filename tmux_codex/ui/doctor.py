"""``tmux-codex doctor``: is everything tmux-codex needs here, and right?

Each check says ok, warn (works, but not as intended) or fail (blocks use),
with what to do. Nothing is created or changed: the state directory is only
looked at.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tmux_codex.codex.version import CAPTURED_VERSIONS, INSTALL_HINT, capture_status, parse_version
from tmux_codex.core.errors import TmuxCodexError

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | FAIL
    detail: str  # what was found, and what to do about it


def check_tmux() -> Check:
    from tmux_codex.tmux.server import MIN_VERSION, Tmux

    try:
        found = Tmux().version()
    except TmuxCodexError as exc:
        return Check("tmux", FAIL, str(exc))
    version = f"{found[0]}.{found[1]}"
    if found < MIN_VERSION:
        need = f"{MIN_VERSION[0]}.{MIN_VERSION[1]}"
        return Check("tmux", FAIL, f"tmux {version} is too old: install tmux {need} or newer")
    return Check("tmux", OK, f"tmux {version}")


def check_codex(command: str) -> Check:
    """The codex command, and whether its version's screens were captured and tested.

    A version newer or older than every capture, or between two of them, is
    read with the newest capture's patterns not newer than it (the oldest for
    an older one): a warning, with how to capture it.
    """
    found = shutil.which(command)
    if found is None:
        return Check(
            "codex",
            FAIL,
            f"{command!r} not found: install it with '{INSTALL_HINT}', or set "
            "TMUX_CODEX_CODEX / [codex] command to its path",
        )
    try:
        out = subprocess.run(
            [found, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("codex", FAIL, f"{found} does not run: {exc}")
    version = parse_version(out.stdout) or parse_version(out.stderr)
    if version is None:
        return Check(
            "codex",
            WARN,
            f"cannot tell the version of {found} (--version printed "
            f"{(out.stdout or out.stderr).strip()[:60]!r})",
        )
    status, nearest = capture_status(version)
    capture = f"capture it with scripts/capture-screens --codex {found}"
    if status == "captured":
        return Check("codex", OK, f"codex {version}: captured and tested ({found})")
    if status == "newer":
        return Check(
            "codex",
            WARN,
            f"codex {version} is newer than any capture: states were right up to {nearest}; "
            f"{capture}",
        )
    if status == "older":
        return Check(
            "codex",
            WARN,
            f"codex {version} is older than any capture: states were right from {nearest} on, "
            f"and may be misread here; upgrade to a captured version ("
            f"{', '.join(CAPTURED_VERSIONS)}), or {capture}",
        )
    return Check(
        "codex",
        WARN,
        f"codex {version} was not captured: read as {nearest} (captured: "
        f"{', '.join(CAPTURED_VERSIONS)}); {capture}",
    )


def check_config(path: Path) -> tuple[Check, object | None]:
    from tmux_codex.core import config as config_mod

    if not path.exists():
        return Check("config", OK, f"{path} does not exist: defaults are used"), config_mod.Config()
    try:
        loaded = config_mod.load(path)
    except TmuxCodexError as exc:
        return Check("config", FAIL, str(exc)), None
    return Check("config", OK, str(path)), loaded


def check_state_dir(home: Path) -> Check:
    """The state directory must be the user's own and private (0700); its files 0600."""
    if not home.exists():
        return Check("state directory", OK, f"{home} will be created (0700) on first use")
    info = home.stat()
    if not stat.S_ISDIR(info.st_mode):
        return Check("state directory", FAIL, f"{home} is not a directory")
    if info.st_uid != os.getuid():
        return Check("state directory", FAIL, f"{home} belongs to uid {info.st_uid}, not you")
    if info.st_mode & 0o022:  # every command refuses it, as ensure_dir does
        return Check(
            "state directory",
            FAIL,
            f"{home} is mode {info.st_mode & 0o777:o}: others could write to it, so every "
            f"command refuses it; 'chmod 700 {home}'",
        )
    if info.st_mode & 0o055:
        return Check(
            "state directory",
            WARN,
            f"{home} is mode {info.st_mode & 0o777:o}: others may read the logs; "
            f"'chmod 700 {home}'",
        )
    loose = [
        p.name
        for p in (home / "tasks.db", *sorted((home / "logs").glob("*.log"))[:200])
        if p.exists() and p.stat().st_mode & 0o077
    ]
    if loose:
        return Check(
            "state directory", WARN, f"readable by others: {', '.join(loose[:5])} ('chmod 600')"
        )
    return Check("state directory", OK, f"{home} (0700)")


def check_monitor(home: Path) -> Check:
    from tmux_codex.core.lock import running

    info = running(home)
    if info is None:
        return Check(
            "monitor",
            WARN,
            "not running: states are only worked out when asked; 'tmux-codex monitor --detach' "
            "(the next 'start' starts it too)",
        )
    return Check("monitor", OK, f"running, pid {info.get('pid')} since {info.get('started_at')}")


def check_hooks(command: str) -> Check:
    """Whether Codex runs tmux-codex's hooks, trusted by the hash tmux-codex computes.

    Asks ``codex app-server`` (``hooks/list``, which writes nothing) about the
    hooks a task would be given; a probe in an empty folder.
    """
    import tempfile

    from tmux_codex.codex.hooks import (
        SESSION_SOURCE,
        AppServerError,
        codex_flags,
        definitions,
        listed_hooks,
        trust_hash,
    )
    from tmux_codex.core.paths import state_home

    found = shutil.which(command)
    if found is None:
        return Check("hooks", WARN, "not checked: no codex command")
    hooks = definitions(state_home(), 0)
    try:
        with tempfile.TemporaryDirectory(prefix="tmux-codex-doctor-") as folder:
            listed = listed_hooks(found, codex_flags(hooks), Path(folder), dict(os.environ))
    except (OSError, AppServerError) as exc:
        return Check("hooks", WARN, f"cannot ask codex app-server about hooks: {exc}")
    ours = {str(h.get("key")): h for h in listed if str(h.get("key")).startswith(SESSION_SOURCE)}
    theirs = [h for h in listed if not str(h.get("key")).startswith(SESSION_SOURCE)]
    if not ours:
        return Check(
            "hooks",
            WARN,
            "off (features.hooks = false, or a managed policy): states come from the screen and "
            "notify alone, and the allowlist approves only commands the prompt shows whole",
        )
    wrong = [h.event for h in hooks if ours.get(h.key, {}).get("currentHash") != trust_hash(h)]
    untrusted = [k for k, h in ours.items() if h.get("trustStatus") != "trusted"]
    if wrong or untrusted:
        return Check(
            "hooks",
            FAIL,
            f"this codex hashes hooks another way ({', '.join(wrong or untrusted)}): every TUI "
            "task would stop at 'Hooks need review'; use a captured codex version "
            f"({', '.join(CAPTURED_VERSIONS)})",
        )
    detail = f"active: {len(ours)} hooks of tmux-codex's, trusted by hash (codex app-server)"
    pending = [h for h in theirs if h.get("trustStatus") != "trusted" and h.get("enabled", True)]
    if pending:
        return Check(
            "hooks",
            WARN,
            f"{detail}; {len(pending)} hook(s) of your own are not trusted: each TUI task starts "
            "at 'Hooks need review' (waiting:menu) until you review them in codex",
        )
    return Check("hooks", OK, detail)


def check_notify_send(wanted: bool) -> Check:
    if shutil.which("notify-send"):
        return Check("notify-send", OK, "found: [notify] desktop = true can use it")
    if wanted:
        return Check(
            "notify-send",
            WARN,
            "[notify] desktop = true but notify-send is not installed (e.g. apt-get install "
            "libnotify-bin)",
        )
    return Check("notify-send", OK, "not installed (only needed for [notify] desktop = true)")


def check_git() -> Check:
    """git, for worktree tasks, ``diff`` and ``merge`` (which needs ``merge-tree``, 2.38+)."""
    from tmux_codex.core import git
    from tmux_codex.core.errors import TmuxCodexError

    if shutil.which("git") is None:
        return Check("git", WARN, "not found: --worktree, diff and merge need git 2.38 or newer")
    try:
        version = git.git_version()
    except (TmuxCodexError, OSError) as exc:
        return Check("git", WARN, f"cannot run git --version: {exc}")
    shown = ".".join(map(str, version))
    if version[:2] < git.MERGE_TREE_VERSION:
        return Check(
            "git",
            WARN,
            f"git {shown}: merge needs 2.38 or newer (merge-tree --write-tree); "
            "--worktree and diff work",
        )
    return Check("git", OK, f"git {shown}: worktrees, diff and merge")


def run_checks(home: Path, config_path: Path) -> list[Check]:
    from tmux_codex.core.config import Config

    config_check, loaded = check_config(config_path)
    config = loaded if isinstance(loaded, Config) else Config()
    command = os.environ.get("TMUX_CODEX_CODEX") or config.codex.command
    return [
        check_tmux(),
        check_codex(command),
        check_hooks(command),
        config_check,
        check_state_dir(home),
        check_monitor(home),
        check_git(),
        check_notify_send(config.notify.desktop),
    ]


def table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{c.status:<4}  {c.name:<{width}}  {c.detail}" for c in checks)
