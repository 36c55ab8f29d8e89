"""``tmux-codex tmux-setup``: tmux-codex's keys and status line on a tmux server."""

from __future__ import annotations

import os


def setup(socket: str = "") -> list[str]:
    """Bind the keys (and the status line) on the tmux server ``socket``; the keys bound.

    With no ``socket``: the server this runs in, or, outside tmux,
    tmux-codex's own (``TMUX_CODEX_SOCKET``, else the config's ``[tmux] socket``).
    """
    from tmux_codex.core import config as config_mod
    from tmux_codex.core.paths import config_path
    from tmux_codex.tmux.bindings import install

    if not socket and not os.environ.get("TMUX"):
        socket = os.environ.get("TMUX_CODEX_SOCKET") or config_mod.load(config_path()).tmux.socket
    return install(socket)
