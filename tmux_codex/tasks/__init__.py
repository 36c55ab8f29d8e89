"""One task's life: launch, the shim in its pane, its state now, acting on it, resume."""
