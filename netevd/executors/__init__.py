"""Executors: carry out the actions the core decides and report outcomes back as events."""
