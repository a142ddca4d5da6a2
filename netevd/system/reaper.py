"""No process a script starts outlives it: the daemon is a child subreaper and ends the orphans.

``prctl(PR_SET_CHILD_SUBREAPER)`` makes every process that leaves a script's tree (a background
child whose script exited, a ``setsid`` child of a script that was killed) the daemon's child
instead of init's. The script's own process group is killed when the script ends; then
:meth:`Reaper.sweep` kills and reaps every child of the daemon that is not a running script,
repeating as their own children are handed up in turn. The sweep runs after every script and at
stop, so an escaped process lives at most until the next script ends, and never past the daemon.

asyncio (3.11) watches script processes with its ThreadedChildWatcher: one thread per child
calling ``waitpid(pid)`` for that pid only. The sweep likewise waits only for pids it killed and
never for a running script, so the two never take each other's children. A sweep is skipped
(and done at the next occasion) while a script is being spawned, because between the fork and
the moment its pid is registered here a new script would look like an orphan.

A cgroup per run is not used: it needs a writable, delegated cgroup2 hierarchy, which neither a
systemd unit without ``Delegate=yes`` nor this project's hosts (cgroup v1) give.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from netevd.system.logfmt import kv

log = logging.getLogger("netevd.reaper")

PR_SET_CHILD_SUBREAPER = 36
MAX_ROUNDS = 64  # each round ends one generation of a tree; deeper trees wait for the next sweep


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans; False if the kernel refused."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        log.warning(kv("reaper.unavailable", error=os.strerror(ctypes.get_errno())))
        return False
    return True


def children(pid: int | str = "self") -> set[int]:
    """The children of *pid*, from every thread's ``/proc/PID/task/TID/children``."""
    found: set[int] = set()
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                found.update(int(p) for p in (task / "children").read_text().split())
    return found


class Reaper:
    """Which children are scripts; everything else the daemon has is an escaped orphan."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: set[int] = set()
        self._spawning = 0
        self.killed = 0  # orphans ended so far (for tests and the log)

    @contextlib.contextmanager
    def spawning(self) -> Iterator[None]:
        """Around a script's spawn: no sweep may judge children until its pid is known."""
        with self._lock:
            self._spawning += 1
        try:
            yield
        finally:
            with self._lock:
                self._spawning -= 1

    def started(self, pid: int) -> None:
        with self._lock:
            self._scripts.add(pid)

    def ended(self, pid: int) -> None:
        with self._lock:
            self._scripts.discard(pid)

    def _orphans(self) -> list[int] | None:
        """The children that are no script; None while a spawn is under way."""
        found = children()
        with self._lock:
            if self._spawning:
                return None
            return sorted(found - self._scripts)

    def sweep(self) -> int:
        """Kill and reap every orphan (blocking: call through asyncio.to_thread)."""
        ended = 0
        for _ in range(MAX_ROUNDS):
            orphans = self._orphans()
            if not orphans:
                break
            for pid in orphans:
                # Our own child: its pid cannot be reused before we reap it, so no race.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for pid in orphans:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
                ended += 1
        if ended:
            self.killed += ended
            log.warning(kv("script.orphans.killed", count=ended))
        return ended
