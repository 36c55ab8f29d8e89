"""Floor 1, data: the task model, errors, paths, config and the SQLite store."""
