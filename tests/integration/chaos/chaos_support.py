"""What the chaos tests share: a throwaway tmpfs, filling it up, and reading /health."""

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from lab.http import NsApi


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of *size* mounted on *path* (a directory of the test's own tmp_path), always
    unmounted on the way out, even when the test failed."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, mode: str) -> None:
    """``mount -o remount,ro|rw`` of the tmpfs at *path*."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def fill(path: Path) -> Path:
    """A file that takes every free byte of *path*'s file system; returns it."""
    filler = path / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as fh:
        while True:
            try:
                fh.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    os.sync()
    return filler


async def health(api: NsApi) -> tuple[int, dict]:
    """``/health``: (status code, its data)."""
    status, body = await api.get("/health")
    return status, body["data"]
