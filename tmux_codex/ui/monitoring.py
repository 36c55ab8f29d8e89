"""The monitor for a person: whether it runs, and running it in the foreground."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tmux_codex.tasks.context import Context


def status(home: Path) -> dict[str, Any]:
    """The monitor of ``home``: ``running``, ``pid``, ``started_at`` (when it runs), ``home``."""
    from tmux_codex.core.lock import running

    data = running(home) or {"running": False, "pid": None}
    data.setdefault("home", str(home))
    return data


def serve(ctx: Context, log: Callable[[str], None]) -> None:
    """Run the monitor here until SIGINT or SIGTERM; its notifications' lines go to ``log``.

    The notify command gets each task's report (``report.task.report_dict``).
    """
    from tmux_codex.monitor.loop import serve as serve_loop
    from tmux_codex.monitor.notify import Notifier
    from tmux_codex.report.task import report_dict

    notifier = Notifier(ctx.config.notify, log=log, reporter=report_dict)
    serve_loop(ctx, notifier=notifier)
