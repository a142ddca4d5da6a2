"""The engine's intake: what sources and executors queued, taken in batches, in two lanes.

During a storm on one link the queue can hold tens of thousands of its route or address
events; a carrier change of another link must not wait behind them. An event whose links
(netevd.core.state.event_scope) have nothing queued in the *bulk* lane, while no event there
may reach every link, goes to the *prompt* lane, which the engine empties first. Events of
disjoint links commute in the state, and those of one link keep their order, so the engine
ends where strict arrival order would have taken it; only the sequence numbers of different
links' events interleave differently.

The intake also bounds the backlog: a source that finds more than ``high`` events queued
waits (:meth:`Intake.room`) until the engine has brought it under ``low``, and meanwhile the
kernel's socket buffer holds what comes (an overrun re-dumps).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque

from netevd.core.events import Event
from netevd.core.state import event_scope

HIGH_WATER = 200_000  # events queued before sources are asked to wait
LOW_WATER = 50_000


class Intake:
    def __init__(self, high: int = HIGH_WATER, low: int = LOW_WATER) -> None:
        self._prompt: deque[Event] = deque()
        self._bulk: deque[tuple[Event, frozenset[int] | None]] = deque()
        self._pending: Counter[int] = Counter()  # link -> its events in the bulk lane
        self._unscoped = 0  # events in the bulk lane that may reach any link
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._high, self._low = high, low

    def __len__(self) -> int:
        return len(self._prompt) + len(self._bulk)

    def put(self, event: Event) -> None:
        """Queue *event* (never blocks)."""
        scope = event_scope(event)
        pending = self._pending
        if scope is not None and not self._unscoped and not any(pending[i] for i in scope):
            self._prompt.append(event)
        else:
            self._bulk.append((event, scope))
            if scope is None:
                self._unscoped += 1
            else:
                for index in scope:
                    pending[index] += 1
        self._ready.set()
        if len(self) > self._high:
            self._room.clear()

    async def take(self, limit: int) -> list[Event]:
        """At least one event: the prompt lane's first, else up to *limit* of the bulk's."""
        while not self._prompt and not self._bulk:
            self._ready.clear()
            await self._ready.wait()
        taken = self._take_prompt(limit) if self._prompt else self._take_bulk(limit)
        if len(self) < self._low:
            self._room.set()
        return taken

    def _take_prompt(self, limit: int) -> list[Event]:
        prompt = self._prompt
        return [prompt.popleft() for _ in range(min(limit, len(prompt)))]

    def _take_bulk(self, limit: int) -> list[Event]:
        taken: list[Event] = []
        bulk, pending = self._bulk, self._pending
        for _ in range(min(limit, len(bulk))):
            event, scope = bulk.popleft()
            taken.append(event)
            if scope is None:
                self._unscoped -= 1
                continue
            for index in scope:
                left = pending[index] - 1
                if left:
                    pending[index] = left
                else:
                    del pending[index]
        return taken

    async def room(self) -> None:
        """For sources, between reads: a turn for the loop, and a wait while the engine is
        more than ``high`` events behind (until it is under ``low``)."""
        await asyncio.sleep(0)
        await self._room.wait()
