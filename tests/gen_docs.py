"""Generated parts of the docs: ``python -m tests.gen_docs`` writes them, tests compare."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tmux_codex.core.config import defaults_as_toml
from tmux_codex.tmux.bindings import example_conf

ROOT = Path(__file__).resolve().parent.parent


def readme_with(text: str, block: str, body: str) -> str:
    """``text`` with the block between ``<!-- block:start -->`` and ``:end`` set to ``body``."""
    pattern = re.compile(rf"(<!-- {block}:start -->\n).*?(<!-- {block}:end -->)", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"README.md has no {block} block")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def config_block() -> str:
    return "```toml\n" + defaults_as_toml() + "```\n"


def main() -> int:
    readme = ROOT / "README.md"
    text = readme_with(readme.read_text(encoding="utf-8"), "config", config_block())
    readme.write_text(text, encoding="utf-8")
    (ROOT / "tmux.conf.example").write_text(example_conf(), encoding="utf-8")
    print("wrote README.md (config) and tmux.conf.example")
    return 0


if __name__ == "__main__":
    sys.exit(main())
