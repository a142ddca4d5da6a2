"""Values too large for a script's environment, each passed by a private file instead."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable


def write_files(files: Iterable[tuple[str, str]], directory: str) -> dict[str, str]:
    """Values too large for the environment, each in a private file; {variable: path}."""
    written: dict[str, str] = {}
    for name, content in files:
        fd, path = tempfile.mkstemp(prefix="netevd-", suffix=".json", dir=directory or None)
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        written[name] = path
    return written


def remove_files(paths: Iterable[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
