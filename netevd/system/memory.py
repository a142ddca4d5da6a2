"""Giving memory freed after a storm back to the kernel (glibc's ``malloc_trim``).

After 1,000 links come and go the daemon holds no more Python objects than before (the event
ring, the caches and the state are all bounded; docs/benchmarks.md section 6), yet its RSS stays
higher: glibc keeps the pages of freed chunks in its heaps. ``malloc_trim(0)`` returns the free
pages at the top of each heap and, since glibc 2.8, the whole free pages inside them. Elsewhere
(musl, no libc found) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable, Coroutine
from typing import Any

TRIM_AFTER = 5000  # events handled since the last trim before the next is worth its few ms
TRIM_QUIET = 1.0  # seconds without events after such a storm before the trim
Spawn = Callable[[Coroutine[Any, Any, Any], str], object]


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return the allocator's free pages to the kernel (blocking for a few ms on a large heap:
    call it through a thread; ctypes lets the GIL go meanwhile)."""
    if _TRIM is not None:
        _TRIM(0)


class Trimmer:
    """The engine's ``settled`` hook: once TRIM_AFTER events or more have been handled and
    none has come for TRIM_QUIET seconds, :func:`give_back` runs in a thread. A timer, reset
    by every round of events; nothing runs while the daemon is quiet."""

    def __init__(self, spawn: Spawn) -> None:
        self._spawn = spawn
        self._since = 0  # events handled since memory was last given back
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, handled: int) -> None:
        self._since += handled
        self.cancel()
        if self._since >= TRIM_AFTER:
            self._timer = asyncio.get_running_loop().call_later(TRIM_QUIET, self._trim)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _trim(self) -> None:
        self._since, self._timer = 0, None
        self._spawn(asyncio.to_thread(give_back), "memory-trim")
