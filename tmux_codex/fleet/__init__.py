"""Many tasks: worktrees of their own, merging them back, batch files."""
