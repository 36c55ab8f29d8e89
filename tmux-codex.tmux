#!/usr/bin/env bash
# The TPM entry point (set -g @plugin '...tmux-codex' in ~/.tmux.conf): binds
# tmux-codex's keys and status line on this tmux server. Keys are tmux options,
# e.g. set -g @tmux-codex-key-fleet 'F' before TPM runs; see README.md.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -x "$here/.venv/bin/tmux-codex" ]; then
  "$here/.venv/bin/tmux-codex" tmux-setup >/dev/null
elif command -v tmux-codex >/dev/null 2>&1; then
  tmux-codex tmux-setup >/dev/null
else
  tmux display-message "tmux-codex is not installed: run $here/scripts/setup (or pip install $here)"
fi
