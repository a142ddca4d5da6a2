"""Whether a script may run, judged on the very file descriptor it will be executed from.

Every component from ``/`` to the script, and every symlink hop on the way, is opened one at a
time with ``openat(O_PATH | O_NOFOLLOW)`` relative to the directory before it and checked with
``fstat``: owned by root (or the daemon's user) and not writable by group or others. A symlink
is read only after its own owner and the directory holding it passed, then its target is walked
the same way. What comes out is an ``O_PATH`` descriptor of the checked file, the sign that it may
run; the executor closes it and executes the path, so that ``$0`` is the script's name. That is
safe because of what the walk refuses: no component of an accepted chain can be written by
anyone but root or the daemon's user, so nobody untrusted can rename, re-link or swap anything
between the walk and the exec (OpenSSH StrictModes and keepalived's ``enable_script_security``
check the same chain and execute the path too).

Two exceptions. A sticky directory (``/tmp``) may be group/world-writable as long as the
script's own directory is not, because in a sticky directory nobody but its owner can rename or
remove the root-owned entry the walk passes through (and every entry is checked for its owner).
And whatever lies on a read-only mount is writable by nobody, whatever its mode bits: a
Kubernetes configMap volume's directory is 0777, mounted read-only.

Blocking (it walks the file system): called through ``asyncio.to_thread``. Running out of file
descriptors is not a verdict: EMFILE/ENFILE propagate as :class:`DescriptorShortage` so the
caller retries instead of calling a directory unreadable.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_HOPS = 40  # the kernel's own limit on symlinks followed in one lookup
_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_SHORTAGE = (errno.EMFILE, errno.ENFILE)
DEV_NULL = os.makedev(1, 3)


class DescriptorShortage(OSError):
    """The process (EMFILE) or the system (ENFILE) is out of file descriptors: retry later."""


@dataclass
class Walked:
    """The outcome of a walk: the final object's O_PATH descriptor (None when not reached),
    its stat, why it must not be used ("" when it may), and whether it is a mask."""

    fd: int | None = None
    st: os.stat_result | None = None
    reason: str = ""
    masked: bool = False
    missing: bool = False

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class _Step:
    fd: int
    path: str
    sticky_only: bool  # writable by others, accepted only because of the sticky bit


@dataclass
class _Walk:
    allowed: frozenset[int]
    stack: list[_Step] = field(default_factory=list)
    hops: int = 0

    def close(self) -> None:
        for step in self.stack:
            os.close(step.fd)
        self.stack.clear()


def owner_ok(allowed: frozenset[int], uid: int) -> bool:
    return uid == 0 or uid in allowed


def writable_reason(mode: int, what: str) -> str:
    if mode & stat.S_IWOTH:
        return f"{what} is world-writable"
    if mode & stat.S_IWGRP:
        return f"{what} is group-writable"
    return ""


def read_only(fd: int) -> bool:
    """Whether *fd* lies on a read-only mount (then its mode's write bits mean nothing)."""
    try:
        return bool(os.fstatvfs(fd).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def file_reason(
    allowed: frozenset[int], st: os.stat_result, what: str = "", *, frozen: bool = False
) -> str:
    """Why a regular file must not run ("" if it may); *frozen*: it is on a read-only mount."""
    mode = st.st_mode & ~((stat.S_IWGRP | stat.S_IWOTH) if frozen else 0)
    if not stat.S_ISREG(mode):
        return f"{what}not a regular file"
    if not owner_ok(allowed, st.st_uid):
        return f"{what}not owned by root"
    if mode & stat.S_ISUID:
        return f"{what}setuid"
    if mode & stat.S_ISGID:
        return f"{what}setgid"
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what}" + ("world-writable" if mode & stat.S_IWOTH else "group-writable")
    if not mode & stat.S_IXUSR:
        return f"{what}not executable"
    return ""


def _open(name: str, dir_fd: int, shown: str) -> int:
    try:
        return os.open(name, _PATH_FLAGS, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in _SHORTAGE:
            raise DescriptorShortage(err.errno, err.strerror, shown) from None
        raise


def _components(path: str) -> Iterator[str]:
    return (part for part in path.split("/") if part not in ("", "."))


def _directory_reason(st: os.stat_result, fd: int, walk: _Walk, shown: str) -> tuple[str, bool]:
    """(problem, sticky_only) of a directory the walk passes through."""
    if not stat.S_ISDIR(st.st_mode):
        return f"{shown} is not a directory", False
    if not owner_ok(walk.allowed, st.st_uid):
        return f"directory {shown} not owned by root", False
    reason = writable_reason(st.st_mode, f"directory {shown}")
    if reason and read_only(fd):
        return "", False
    if reason and st.st_mode & stat.S_ISVTX:
        return "", True
    return reason, False


def _join(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}"


def _follow(walk: _Walk, name: str, st: os.stat_result, shown: str, pending: list[str]) -> str:
    """Queue a symlink's target in *pending*; the problem with the link ("" if none)."""
    if not owner_ok(walk.allowed, st.st_uid):
        return f"symlink {shown} not owned by root"
    walk.hops += 1
    if walk.hops > MAX_HOPS:
        return f"too many symlinks at {shown}"
    target = os.readlink(name, dir_fd=walk.stack[-1].fd)
    if target.startswith("/"):
        while len(walk.stack) > 1:
            os.close(walk.stack.pop().fd)
    pending[:0] = list(_components(target))
    return ""


def _start(walk: _Walk) -> str:
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    walk.stack.append(_Step(fd, "/", False))
    reason, sticky = _directory_reason(os.fstat(fd), fd, walk, "/")
    walk.stack[-1].sticky_only = sticky
    return reason


def _walk(walk: _Walk, path: str, result: Walked) -> None:
    """Walk *path* from /, filling *result* with the final object (or the first problem)."""
    result.reason = _start(walk)
    pending = list(_components(path))
    linked = False
    while pending and not result.reason:
        name = pending.pop(0)
        if name == "..":
            if len(walk.stack) > 1:
                os.close(walk.stack.pop().fd)
            continue
        shown = _join(walk.stack[-1].path, name)
        try:
            fd = _open(name, walk.stack[-1].fd, shown)
        except FileNotFoundError:
            result.reason = "broken symlink" if linked else "no such file"
            result.missing = True
            return
        st = os.fstat(fd)
        if stat.S_ISLNK(st.st_mode):
            os.close(fd)
            linked = True
            result.reason = _follow(walk, name, st, shown, pending)
        elif pending:
            reason, sticky = _directory_reason(st, fd, walk, shown)
            walk.stack.append(_Step(fd, shown, sticky))
            result.reason = reason
        else:
            result.fd, result.st = fd, st
            result.masked = linked and stat.S_ISCHR(st.st_mode) and st.st_rdev == DEV_NULL


def walk(path: str, allowed: frozenset[int]) -> Walked:
    """Walk absolute *path* component by component; the caller closes ``result.fd``.

    ``result.reason`` names the first component that fails (an untrusted directory or
    symlink); the final object itself is not judged here (see :func:`open_script`).
    Raises DescriptorShortage on EMFILE/ENFILE; other OSErrors become the reason.
    """
    result = Walked()
    state = _Walk(allowed)
    try:
        _walk(state, os.path.abspath(path), result)
        if not result.reason and result.fd is not None and state.stack[-1].sticky_only:
            result.reason = writable_reason(
                os.fstat(state.stack[-1].fd).st_mode, f"directory {state.stack[-1].path}"
            )
    except DescriptorShortage:
        result.close()
        raise
    except OSError as err:
        result.close()
        result.reason = f"cannot check: {err.strerror}"
    finally:
        state.close()
    if result.reason:
        result.close()
    return result


def open_script(path: str, allowed: frozenset[int]) -> Walked:
    """The checked script: ``fd`` set (an O_PATH descriptor to exec) only when it may run."""
    result = walk(path, allowed)
    if result.reason or result.masked or result.st is None or result.fd is None:
        result.close()
        return result
    result.reason = file_reason(allowed, result.st, frozen=read_only(result.fd))
    if result.reason:
        result.close()
    return result


def open_directory(path: str, allowed: frozenset[int]) -> Walked:
    """A ``<state>.d`` directory, checked the same way, opened for listing (O_RDONLY)."""
    result = walk(path, allowed)
    if result.fd is None:
        return result
    st = result.st
    assert st is not None
    reason = ""
    if not stat.S_ISDIR(st.st_mode):
        reason = "not a directory"
    elif not owner_ok(allowed, st.st_uid):
        reason = "directory not owned by root"
    elif not read_only(result.fd):
        reason = writable_reason(st.st_mode, "directory")
    if not reason:
        try:
            listing = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=result.fd)
        except OSError as err:
            result.close()
            if err.errno in _SHORTAGE:
                raise DescriptorShortage(err.errno, err.strerror, path) from None
            result.reason = f"cannot read directory: {err.strerror}"
            return result
        os.close(result.fd)
        result.fd = listing
    result.reason = reason
    if reason:
        result.close()
    return result
