"""Exceptions the CLI maps to exit codes."""


class UsageError(Exception):
    """Bad input on the command line (exit code 2)."""


class RuntimeFailure(Exception):
    """Something at run time failed (exit code 1); the message says what."""
