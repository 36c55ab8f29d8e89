"""What a task did: git changes, test runs, tokens, the last message."""
