"""tmux key bindings and the status line, configurable through tmux user options.

Used by the TPM plugin (``tmux-codex.tmux`` runs ``tmux-codex tmux-setup``)
and by ``demo``; ``tmux.conf.example`` spells the same bindings out for a
``~/.tmux.conf``. Every key is a tmux option a user can set before the plugin
loads, e.g. ``set -g @tmux-codex-key-fleet 'F'``; an empty value binds nothing.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from tmux_codex.tmux.server import Tmux


@dataclass(frozen=True)
class Binding:
    option: str  # the tmux user option that names the key
    default: str  # the key when the option is unset
    what: str  # for the docs


BINDINGS = (
    Binding("@tmux-codex-key-fleet", "C", "the fleet in a popup (tmux-codex top)"),
    Binding("@tmux-codex-key-approve", "Y", "approve the prompt in this window"),
    Binding("@tmux-codex-key-deny", "N", "deny the prompt in this window"),
    Binding("@tmux-codex-key-next", "J", "jump to the next task that needs you"),
    Binding("@tmux-codex-key-log", "L", "this window's task's log in a popup"),
)
#: ``off`` leaves status-right alone.
STATUS_OPTION = "@tmux-codex-status"
#: Columns added to ``status-right-length`` for the segment (``codex: 2! 1… 3⚙ 1✗``).
STATUS_ROOM = 40


def command_prefix() -> str:
    """How tmux should run tmux-codex: the console script next to this Python, or -m."""
    script = Path(sys.executable).with_name("tmux-codex")
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m tmux_codex"


def commands(cmd: str) -> dict[str, list[str]]:
    """The tmux command (argv after ``bind-key KEY``) each binding runs.

    No single quote appears in them, so ``tmux.conf.example`` can quote each
    argument in single quotes (tmux expands ``$`` inside double quotes).
    """

    # The task is the one whose id the window carries (window ids are per tmux
    # server: another server's @4 is not this one); a window with none says so.
    task = (
        't="#{@tmux-codex-task}"; if [ -z "$t" ]; then '
        'tmux display-message "tmux-codex: no task in this window"; exit 0; fi; '
    )

    # tmux expands formats (#(…) runs a command) and strftime (%) in a message: the
    # output, which holds task names and prompts, is doubled first. ("##" is what
    # run-shell's own expansion turns into the "#" the shell sees.)
    literal = 'sed "s/[##%]/&&/g"'

    def report(verb: str) -> str:
        # The answer (or the one-line error) as a tmux message, not in view mode.
        return (
            f'{task}out=$({cmd} {verb} "$t" 2>&1); '
            f'tmux display-message "tmux-codex {verb}: '
            f'$(printf %s "$out" | tail -n 1 | {literal})"'
        )

    return {
        "@tmux-codex-key-fleet": ["display-popup", "-E", "-w", "90%", "-h", "80%", f"{cmd} top"],
        "@tmux-codex-key-approve": ["run-shell", "-b", report("approve")],
        "@tmux-codex-key-deny": ["run-shell", "-b", report("deny")],
        "@tmux-codex-key-next": [
            "run-shell",
            "-b",
            f'{cmd} attach --next --client "#{{client_name}}" 2>&1 | {literal} | '
            'while read -r line; do tmux display-message "tmux-codex: $line"; done',
        ],
        # display-popup does not expand formats in its command: run-shell does.
        "@tmux-codex-key-log": [
            "run-shell",
            "-b",
            f'{task}tmux display-popup -c "#{{client_name}}" -E -w 90% -h 80% '
            f'"{cmd} log $t | less -R +G"',
        ],
    }


def _conf_arg(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-%@_" for c in arg):
        return arg
    assert "'" not in arg
    return f"'{arg}'"


def example_conf(cmd: str = "tmux-codex") -> str:
    """The text of ``tmux.conf.example``: the same bindings, for a ``~/.tmux.conf``."""
    lines = [
        "# tmux-codex key bindings and status line. Load it from ~/.tmux.conf:",
        "#   source-file /path/to/tmux-codex/tmux.conf.example",
        "# (or install the TPM plugin: set -g @plugin 'OWNER/tmux-codex'; see README.md).",
        "# Every binding runs the tmux-codex command, so it must be on tmux's PATH.",
        "# Generated from tmux_codex/bindings.py (scripts/gen-docs): edit that, not this.",
        "",
        "# Tasks per state in the status line, e.g. 'codex: 1! 3⚙' (reads the store only),",
        f"# once, with {STATUS_ROOM} more columns for it (tmux cuts status-right at its length).",
        "set -g status-interval 5",
        f'%if "#{{==:#{{m:*{cmd} status --format tmux*,#{{status-right}}}},0}}"',
        f"set -ga status-right ' #({cmd} status --format tmux)'",
        f"set -gF status-right-length '#{{e|+:#{{status-right-length}},{STATUS_ROOM}}}'",
        "%endif",
    ]
    table = commands(cmd)
    for binding in BINDINGS:
        lines += ["", f"# prefix {binding.default}: {binding.what}"]
        args = " ".join(_conf_arg(a) for a in table[binding.option])
        lines.append(f"bind-key {binding.default} {args}")
    return "\n".join(lines) + "\n"


def install(socket: str, cmd: str | None = None) -> list[str]:
    """Bind the keys on the tmux server ``socket`` (user options decide); the keys bound."""
    tmux = Tmux(socket)
    cmd = cmd or command_prefix()
    table = commands(cmd)
    bound: list[str] = []
    for binding in BINDINGS:
        found = tmux.run("show-option", "-gqv", binding.option, check=False)
        key = found[0].strip() if found and found[0].strip() else binding.default
        if found and found[0].strip() == "" and _is_set(tmux, binding.option):
            continue  # set to "": the user wants no key for it
        tmux.run("bind-key", key, *table[binding.option])
        bound.append(key)
    status = tmux.run("show-option", "-gqv", STATUS_OPTION, check=False)
    if not status or status[0].strip() != "off":
        segment = f"#({cmd} status --format tmux)"
        current = tmux.run("show-option", "-gqv", "status-right", check=False)
        if segment not in "\n".join(current):
            tmux.run("set-option", "-ga", "status-right", f" {segment}")
            # tmux cuts status-right at status-right-length (40 by default): make room.
            length = tmux.run("show-option", "-gqv", "status-right-length", check=False)
            base = int(length[0]) if length and length[0].isdigit() else 40
            tmux.run("set-option", "-g", "status-right-length", str(base + STATUS_ROOM))
        interval = tmux.run("show-option", "-gqv", "status-interval", check=False)
        if not interval or not interval[0].isdigit() or int(interval[0]) > 5:
            tmux.run("set-option", "-g", "status-interval", "5")  # a slower one, not a faster
    return bound


def _is_set(tmux: Tmux, option: str) -> bool:
    return any(line.startswith(option) for line in tmux.run("show-options", "-g", check=False))
