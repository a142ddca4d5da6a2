"""Exceptions the CLI maps to exit codes."""


class UsageError(Exception):
    """Bad input on the command line (exit code 2)."""


class RuntimeFailure(Exception):
    """Something at run time failed (exit code 1); the message says what."""


class ConfigError(Exception):
    """A configuration that cannot be used (exit code 2): every problem, each naming its key,
    the value and what is allowed. Here rather than in netevd.config, so the command line can
    catch it without importing the configuration's stack."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
