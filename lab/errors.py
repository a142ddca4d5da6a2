"""Exceptions of the lab package."""


class LabError(Exception):
    """Something the lab could not do; the message says what and why."""


class TopologyError(LabError, ValueError):
    """A topology description that cannot be built."""
