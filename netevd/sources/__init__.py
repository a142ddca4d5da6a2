"""Sources: the only code that reads the outside world. Each emits events on the engine's queue."""
