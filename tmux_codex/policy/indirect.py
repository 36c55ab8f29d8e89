"""Commands that run another command: what a pattern sees is not what runs (pure).

``eval``, shells (``sh -c``), ``env``, ``xargs``, ``sudo``, ``find -exec`` and
the like take (part of) their arguments as a command of their own; the command
allowlist never approves them (see :mod:`tmux_codex.shell`).
"""

from __future__ import annotations

#: Commands that run (part of) their arguments as another command: what they
#: run is not what a pattern sees, so a policy never approves them.
INDIRECT = frozenset(
    {
        ".",
        "source",
        "eval",
        "exec",
        "command",
        "builtin",
        "sh",
        "bash",
        "dash",
        "zsh",
        "ksh",
        "mksh",
        "csh",
        "tcsh",
        "fish",
        "busybox",
        "env",
        "xargs",
        "parallel",
        "sudo",
        "doas",
        "su",
        "runuser",
        "pkexec",
        "nohup",
        "setsid",
        "timeout",
        "time",
        "nice",
        "ionice",
        "chrt",
        "taskset",
        "stdbuf",
        "unbuffer",
        "flock",
        "watch",
        "script",
        "chroot",
        "unshare",
        "nsenter",
        "systemd-run",
        "ssh",
        "strace",
        "ltrace",
        "gdb",
        "trap",
    }
)
#: ``find`` arguments that run a command for each file.
FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})


def indirection(words: tuple[str, ...], text: str) -> str | None:
    """Why a simple command (its words, its text) runs another command, or None."""
    base = words[0].rsplit("/", 1)[-1]
    if base in INDIRECT:
        return f"{base!r} runs another command: {text}"
    if base == "find" and FIND_EXEC.intersection(words[1:]):
        return f"find -exec runs another command: {text}"
    return None
