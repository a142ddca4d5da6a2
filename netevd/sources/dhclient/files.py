"""The dhclient source's blocking side: which lease directories exist, and reading one lease
file safely. Called in worker threads, never on the event loop."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from netevd.core.dhcp.lease import parse_leases
from netevd.core.dhcp.syntax import Problem
from netevd.sources.dhclient.book import FileLeases, is_lease_file

MAX_FILE_SIZE = 1024 * 1024  # a real lease file is a few KiB: dhclient rewrites it every 20 writes


@dataclass(frozen=True, slots=True)
class WatchPlan:
    """Which directories exist (watched for lease files) and where missing ones are awaited."""

    present: tuple[str, ...]
    missing: tuple[str, ...]
    anchors: tuple[str, ...]  # the nearest existing parent of each missing directory

    @property
    def watched(self) -> list[str]:
        return sorted(set(self.present) | set(self.anchors))


@dataclass(frozen=True, slots=True)
class Read:
    content: FileLeases
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str  # too_large | not_regular | unreadable | incomplete
    detail: str
    problems: tuple[Problem, ...] = ()


Loaded = Read | Refused | None  # None: the file is gone


def make_plan(directories: Sequence[str]) -> WatchPlan:
    present = tuple(d for d in directories if os.path.isdir(d))
    missing = tuple(d for d in directories if d not in present)
    return WatchPlan(present, missing, tuple(sorted({_anchor(d) for d in missing})))


def _anchor(directory: str) -> str:
    path = PurePath(directory)
    for parent in path.parents:
        if os.path.isdir(parent):
            return str(parent)
    return "/"


def list_lease_files(directories: Iterable[str]) -> list[str]:
    found: list[str] = []
    for directory in directories:
        with contextlib.suppress(OSError), os.scandir(directory) as entries:
            found.extend(e.path for e in entries if is_lease_file(e.name))
    return sorted(found)


def load_all(paths: Sequence[str], limit: int) -> list[Loaded]:
    return [load_lease_file(path, limit) for path in paths]


def load_lease_file(path: str, limit: int = MAX_FILE_SIZE) -> Loaded:
    """Read and parse one lease file; never follows a symlink, never reads past *limit*."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Refused("unreadable", exc.strerror or str(exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Refused("not_regular", "not a regular file")
        if info.st_size > limit:
            return Refused("too_large", f"{info.st_size} bytes, more than {limit}")
        data = _read_at_most(fd, limit + 1)
    except OSError as exc:
        return Refused("unreadable", exc.strerror or str(exc))
    finally:
        os.close(fd)
    if len(data) > limit:
        return Refused("too_large", f"grew beyond {limit} bytes while being read")
    result = parse_leases(data)
    if not result.complete:
        return Refused("incomplete", "ends inside a block (being written?)", result.problems)
    return Read(FileLeases(info.st_mtime_ns, result.leases), result.problems)


def _read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
