"""Running one script: execve (no shell), clean environment, bounded output, group kill.

Standalone on purpose: the executor uses it for every script, and ``netevd test SCRIPT`` uses
it to run one script exactly the way the daemon would.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from netevd.system.reaper import Reaper

FIXED_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INHERITED = ("LANG", "TZ")
# A script that exited may have left a background child holding the pipe; reading on for
# longer would stall every later script of the link behind someone else's daemon.
DRAIN_AFTER_EXIT = 1.0
MAX_LINE = 4096  # a line longer than this is logged in pieces, so memory stays bounded
SHORTAGE = (errno.EMFILE, errno.ENFILE)
SHORTAGE_RETRIES = 8  # 0.05 s doubling: about 13 s for descriptors to come back
SHORTAGE_FIRST_DELAY = 0.05

T = TypeVar("T")

_EXEC_ERRORS = {
    errno.ENOEXEC: "exec format error: missing #! line?",
    errno.EACCES: "permission denied (not executable, or a noexec mount?)",
    errno.ENOENT: "no such file (the script, or the interpreter named on its #! line)",
    errno.E2BIG: "environment too large for execve (E2BIG)",
}


@dataclass(frozen=True)
class ScriptResult:
    exit_code: int | None  # None: killed on timeout or could not start; negative: killed by signal
    duration: float
    timed_out: bool
    error: str  # why it could not start ("" otherwise)
    output: str  # the tail of stdout+stderr
    output_truncated: int  # bytes dropped from the front of the output
    lines_unlogged: int = 0  # output lines past the line budget (counted, not split or logged)


def script_environment(env: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of a script: a fixed PATH, LANG/TZ from *base*, then *env*.

    Nothing else is inherited: the daemon's environment (HOME, NOTIFY_SOCKET, credentials
    directories, ...) is none of the scripts' business.
    """
    result = {"PATH": FIXED_PATH}
    result.update((name, base[name]) for name in INHERITED if name in base)
    result.update(env)
    return result


def exec_error(err: OSError | ValueError) -> str:
    if isinstance(err, OSError) and err.errno in _EXEC_ERRORS:
        return _EXEC_ERRORS[err.errno]
    if isinstance(err, OSError):
        return f"cannot execute: {err.strerror or err}"
    return f"cannot execute: {err}"  # e.g. a NUL byte in an environment value


class _Capture(asyncio.SubprocessProtocol):
    """Keeps the last *limit* bytes of output and hands complete lines to *on_line*."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit: int,
        on_line: Callable[[str], None] | None,
        line_budget: int | None = None,
    ) -> None:
        self.tail = bytearray()
        self.unlogged = 0  # lines past the budget: counted with bytes.count, never split
        self._budget = line_budget
        self.dropped = 0
        self.exited: asyncio.Future[None] = loop.create_future()
        self.eof: asyncio.Future[None] = loop.create_future()
        self._limit = limit
        self._on_line = on_line
        self._partial = bytearray()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        self.tail += data
        excess = len(self.tail) - self._limit
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess
        if self._on_line is not None:
            self._split(data)

    def _split(self, data: bytes | bytearray) -> None:
        if self._budget is not None and self._budget <= 0:
            # The log budget is spent: a script printing without end must not cost a core
            # in line splitting and decoding for the rest of its timeout.
            self.unlogged += data.count(b"\n")
            return
        *complete, rest = (self._partial + data).split(b"\n")
        lines: list[bytes | bytearray] = list(complete)
        self._partial = bytearray(rest)
        while len(self._partial) > MAX_LINE:
            lines.append(bytes(self._partial[:MAX_LINE]))
            del self._partial[:MAX_LINE]
        for line in lines:
            self._emit(line)

    def _emit(self, line: bytes | bytearray) -> None:
        if self._budget is not None:
            if self._budget <= 0:
                self.unlogged += 1
                return
            self._budget -= 1
        if self._on_line is not None:
            self._on_line(bytes(line).decode("utf-8", "replace").rstrip("\r"))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if self._partial and self._on_line is not None:
            self._emit(self._partial)
            self._partial.clear()
        if not self.eof.done():
            self.eof.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


def _kill_group(pid: int) -> None:
    # start_new_session made the script a process-group leader, so pgid == pid and the
    # children it forked (unless they left the session on purpose) die with it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _absolute(path: Path) -> str:
    # The child chdirs to / before execve, so a relative path (``netevd test ./x``) must be
    # made absolute here. getcwd() reads no disk; it is no blocking call in the ASYNC sense.
    return os.path.abspath(path)


async def _settle(proto: _Capture, limit: float) -> None:
    """Wait for the output's EOF, but never longer than *limit* seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            await asyncio.shield(proto.eof)


async def _supervise(
    transport: asyncio.SubprocessTransport, proto: _Capture, timeout: float
) -> tuple[bool, float]:
    """Wait for the script to exit (killing its group on timeout); (timed_out, exit time)."""
    loop = asyncio.get_running_loop()
    timed_out = False
    try:
        async with asyncio.timeout(timeout):
            await asyncio.shield(proto.exited)
    except TimeoutError:
        timed_out = True
        _kill_group(transport.get_pid())
        await asyncio.shield(proto.exited)
    return timed_out, loop.time()


@dataclass(frozen=True)
class Start:
    """How a script is started besides its environment: the arguments after its path, and its
    stdin (None: /dev/null)."""

    args: Sequence[str] = ()
    stdin: int | None = None


async def _spawn(
    loop: asyncio.AbstractEventLoop,
    proto: _Capture,
    path: Path,
    env: Mapping[str, str],
    start: Start,
) -> asyncio.SubprocessTransport:
    """execve the script's path directly (no shell) as the leader of a new session.

    By its path, so that a ``#!`` script's ``$0`` is that path (``basename "$0"``,
    ``. "$(dirname "$0")/lib.sh"``). The executor walked the whole chain from ``/`` right
    before this call; a chain nobody untrusted can write cannot be swapped in between
    (docs/security.md). The protocol-level API rather than create_subprocess_exec: it lets us
    close the pipe when a leftover grandchild keeps it open, without private attributes.
    """
    transport, _ = await loop.subprocess_exec(
        lambda: proto,
        _absolute(path),
        *start.args,
        stdin=subprocess.DEVNULL if start.stdin is None else start.stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd="/",
        start_new_session=True,
    )
    return transport


def _short_of_descriptors(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in SHORTAGE


async def retry_on_shortage(make: Callable[[], Awaitable[T]], what: str) -> T:
    """``await make()``, retried with backoff while the process or system is out of file
    descriptors (EMFILE/ENFILE): that is a passing condition, not the file's verdict."""
    delay = SHORTAGE_FIRST_DELAY
    for attempt in range(SHORTAGE_RETRIES):
        try:
            return await make()
        except OSError as err:
            if not _short_of_descriptors(err) or attempt == SHORTAGE_RETRIES - 1:
                raise
            if attempt == 0:
                logging.getLogger("netevd.scripts").warning(
                    "script.descriptors.short what=%r error=%r (retrying)", what, err.strerror
                )
            await asyncio.sleep(delay)  # backoff: descriptors are freed by others, not polled
            delay *= 2
    raise AssertionError("unreachable")


async def _start(
    loop: asyncio.AbstractEventLoop,
    proto: _Capture,
    path: Path,
    env: Mapping[str, str],
    start: Start,
    reaper: Reaper | None,
) -> asyncio.SubprocessTransport:
    if reaper is None:
        return await retry_on_shortage(lambda: _spawn(loop, proto, path, env, start), str(path))
    with reaper.spawning():  # no orphan sweep may mistake the new script for an orphan
        transport = await retry_on_shortage(
            lambda: _spawn(loop, proto, path, env, start), str(path)
        )
        reaper.started(transport.get_pid())
    return transport


async def run_script(
    path: Path,
    env: Mapping[str, str],
    timeout: float,
    output_limit: int,
    *,
    on_line: Callable[[str], None] | None = None,
    line_budget: int | None = None,
    reaper: Reaper | None = None,
    args: Sequence[str] = (),
    stdin: int | None = None,
) -> ScriptResult:
    """Run *path* (absolute, or made so) with exactly *env*, *args* after its path, stdin
    /dev/null (or *stdin*), cwd /, in its own session; when it ends its whole process group is
    SIGKILLed (escapees are the *reaper*'s). A script that cannot start: ``.error`` says why."""
    loop = asyncio.get_running_loop()
    proto = _Capture(loop, max(output_limit, 0), on_line, line_budget)
    start = loop.time()
    try:
        transport = await _start(loop, proto, path, env, Start(args, stdin), reaper)
    except (OSError, ValueError) as err:
        return ScriptResult(None, loop.time() - start, False, exec_error(err), "", 0)
    pid = transport.get_pid()
    try:
        timed_out, ended = await _supervise(transport, proto, timeout)
        _kill_group(pid)  # what it left behind in its group ends with it
        await _settle(proto, DRAIN_AFTER_EXIT)
    finally:
        if transport.get_returncode() is None:  # cancelled: take the whole group with us
            _kill_group(pid)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(proto.exited)
        _kill_group(pid)
        transport.close()  # closes our end of a pipe a leftover grandchild may still hold
        if reaper is not None:
            reaper.ended(pid)
    code = None if timed_out else transport.get_returncode()
    output = bytes(proto.tail).decode("utf-8", "replace")
    return ScriptResult(code, ended - start, timed_out, "", output, proto.dropped, proto.unlogged)
