"""A run's files: values too large for a script's environment, each passed by a private file
instead, and the event document on a script's stdin (scripts.stdin_json)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterable

from netevd.core.actions import RunScripts
from netevd.executors.scripts.settings import ScriptSettings


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


async def write_run_files(action: RunScripts, settings: ScriptSettings) -> dict[str, str]:
    """Values too large for the environment, in files; {variable: path}. No thread hop when
    there are none: it would delay every script's start."""
    if not action.files:
        return {}
    return await asyncio.to_thread(write_files, action.files, settings.runtime_dir)


def event_stdin(document: str) -> int:
    """A file descriptor reading *document* from its start (scripts.stdin_json): a memfd, so
    a script that never reads it blocks nobody, and nothing is written to disk."""
    fd = os.memfd_create("netevd-event", os.MFD_CLOEXEC)
    try:
        data = document.encode()
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def close_quietly(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
