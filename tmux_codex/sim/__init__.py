"""The scripted fake model server tmux-codex's tests and ``demo`` run Codex against.

Run it as ``python -m tmux_codex.sim PORT``; in Python, ``FakeModelServer``.
"""

from tmux_codex.sim.scenarios import SCENARIOS
from tmux_codex.sim.server import FakeModelServer

__all__ = ["SCENARIOS", "FakeModelServer"]
