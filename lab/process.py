"""ManagedProcess: a helper program (dnsmasq, dhclient, dbus-daemon, netevd) under test control.

It runs in its own session (so its whole process group can be signalled), optionally inside a
network namespace, with stdout and stderr drained by tasks into memory (and optionally a file),
so tests can ``await wait_for_log(...)`` instead of sleeping. ``stop()`` sends SIGTERM to the
group, SIGKILL after a grace period, and always reaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

from lab.errors import LabError
from lab.lifecycle import Service
from lab.wait import WaitTimeout, wait_until

MAX_LINES = 200_000


class ProcessExited(LabError):
    """The process ended while someone was waiting for it to say something."""


class ManagedProcess(Service):
    def __init__(
        self,
        argv: Sequence[str],
        *,
        netns: str | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        cwd: str | Path | None = None,
        log_path: str | Path | None = None,
        stdin_devnull: bool = True,
    ) -> None:
        if not argv:
            raise LabError("ManagedProcess needs a command")
        self.argv = list(argv)
        self.netns = netns
        self.env = dict(env) if env is not None else None
        self.name = name or Path(argv[0]).name
        self.cwd = cwd
        self.log_path = Path(log_path) if log_path else None
        self.stdin_devnull = stdin_devnull
        self.lines: list[tuple[str, str]] = []  # (stream, text)
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()

    # -- life ---------------------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return prefix + self.argv

    async def start(self) -> Self:
        if self._proc is not None:
            raise LabError(f"{self.name} is already started")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.DEVNULL if self.stdin_devnull else None,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # its own process group: stop() reaches grandchildren
                limit=1 << 20,
            )
        except OSError as exc:
            raise LabError(f"cannot start {self.name} ({self.command[0]}): {exc}") from exc
        out, err = self._proc.stdout, self._proc.stderr
        if out is None or err is None:  # cannot happen with PIPE; keeps the types honest
            raise LabError(f"{self.name}: no output pipes")
        self._readers = [
            asyncio.create_task(self._drain("stdout", out)),
            asyncio.create_task(self._drain("stderr", err)),
        ]
        return self

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise LabError(f"{self.name} is not started")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def send_signal(self, sig: signal.Signals, *, group: bool = False) -> None:
        if self._proc is None or self._proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self._proc.pid, sig)
            else:
                self._proc.send_signal(sig)

    async def wait_exit(self, timeout: float = 10.0) -> int:
        if self._proc is None:
            raise LabError(f"{self.name} is not started")
        try:
            code = await asyncio.wait_for(self._proc.wait(), timeout)
        except TimeoutError:
            raise WaitTimeout(f"{self.name} did not exit within {timeout:g}s") from None
        await self._join_readers()
        return code

    async def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM the group, SIGKILL it after *grace*; always reaped. Returns the exit code."""
        if self._proc is None:
            return None
        if self._proc.returncode is None:
            self.send_signal(signal.SIGTERM, group=True)
            try:
                await asyncio.wait_for(self._proc.wait(), grace)
            except TimeoutError:
                self.send_signal(signal.SIGKILL, group=True)
                await self._proc.wait()
        # The leader is gone; anything left in its group (a daemon's child) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        await self._join_readers()
        return self._proc.returncode

    # -- output -------------------------------------------------------------------------------

    def output(self, stream: str | None = None) -> str:
        return "\n".join(text for s, text in self.lines if stream in (None, s))

    def tail(self, count: int = 30) -> str:
        return "\n".join(f"[{s}] {t}" for s, t in self.lines[-count:])

    async def wait_for_log(
        self, pattern: str | re.Pattern[str], timeout: float = 10.0, *, stream: str | None = None
    ) -> re.Match[str]:
        """Wait until an output line matches *pattern* (lines already seen count)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for s, text in self.lines[seen:]:
                if stream in (None, s) and (match := regex.search(text)):
                    return match
            seen = len(self.lines)
            if not self._readers_alive():
                if self._proc is not None:
                    await self._proc.wait()
                raise ProcessExited(
                    f"{self.name} exited (code {self.returncode}) before printing "
                    f"{regex.pattern!r}; last output:\n{self.tail()}"
                )
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(
                    f"{self.name}: no line matching {regex.pattern!r} within {timeout:g}s; "
                    f"last output:\n{self.tail()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_until(
        self, predicate: Callable[[], object | Awaitable[object]], timeout: float = 10.0
    ) -> object:
        return await wait_until(predicate, timeout, message=f"{self.name}: condition")

    # -- internals ------------------------------------------------------------------------------

    def _readers_alive(self) -> bool:
        return any(not task.done() for task in self._readers)

    async def _join_readers(self) -> None:
        if self._readers:
            await asyncio.gather(*self._readers, return_exceptions=True)

    async def _drain(self, stream: str, reader: asyncio.StreamReader) -> None:
        log = self.log_path.open("a") if self.log_path else None
        try:
            while raw := await _read_line(reader):
                text = raw.decode(errors="replace").rstrip("\n")
                if len(self.lines) < MAX_LINES:
                    self.lines.append((stream, text))
                if log:
                    log.write(f"[{stream}] {text}\n")
                    log.flush()
                self._changed.set()
        finally:
            if log:
                log.close()
            self._changed.set()


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """One line; an overlong one comes back in pieces instead of killing the drain."""
    try:
        return await reader.readline()
    except ValueError:
        return await reader.read(1 << 20)
