"""The engine's intake: what sources and executors queued, taken in batches, in two lanes.

During a storm on one link the queue can hold tens of thousands of its route or address
events; a carrier change of another link must not wait behind them. An event goes to the
*prompt* lane, which the engine empties first, when none of its links
(netevd.core.state.event_scope) has an event in the *bulk* lane or more than PROMPT_PER_LINK
in the prompt lane, and no event in the bulk lane may reach every link; otherwise to the bulk
lane. A storm's link thus fills its share of the prompt lane and goes on in the bulk lane,
while another link's events pass it. Events of disjoint links commute in the state, and those
of one link keep their order (its prompt events came before its bulk ones), so the engine
ends where strict arrival order would have taken it; only the sequence numbers of different
links' events interleave differently.

While a source reports that it is behind the kernel (its last read ended with more queued),
the engine leaves the bulk lane alone for up to BULK_DEFER seconds at a time and serves only
the prompt lane, so the source gets most of the loop: the kernel's buffer is the one place
where a storm can be lost (an overrun costs a full re-dump, ruinous with a million routes), the
intake is not. So the source reads as fast as the kernel writes, and the engine works through
the bulk whenever it catches up.

A storm fills memory with objects that live long (events queued, then the state's routes),
and each of Python's full garbage collections walks all of them: with a million routes one
held the loop for 0.2-1.8 s, long enough for the kernel to overrun. Every FREEZE_EVERY events
queued or taken (the engine makes the state's new objects as it takes them), the objects alive
are moved out of the collector's sight (gc.freeze), so it only walks what came since. The
state holds no reference cycles (its objects are freed by reference counting, frozen or not);
a freeze may keep for good only the cyclic garbage of that moment.

The intake also bounds the backlog: a source that finds more than ``high`` events queued
waits (:meth:`Intake.room`) until the engine has brought it under ``low``, and meanwhile the
kernel's socket buffer holds what comes (an overrun re-dumps).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import Counter, deque

from netevd.core.events import Event
from netevd.core.state import event_scope

HIGH_WATER = 1_000_000  # events queued before sources are asked to wait
LOW_WATER = 250_000
PROMPT_PER_LINK = 64  # a link's events in the prompt lane before the rest go to the bulk lane
BULK_DEFER = 0.01  # seconds the bulk lane may wait at most while a source is behind
FREEZE_EVERY = 20_000  # events queued or taken between two gc.freeze() calls
Scope = frozenset[int] | None


class Intake:
    def __init__(self, high: int = HIGH_WATER, low: int = LOW_WATER) -> None:
        self._prompt: deque[tuple[Event, Scope]] = deque()
        self._bulk: deque[tuple[Event, Scope]] = deque()
        self._in_prompt: Counter[int] = Counter()  # link -> its events in the prompt lane
        self._pending: Counter[int] = Counter()  # link -> its events in the bulk lane
        self._unscoped = 0  # events in the bulk lane that may reach any link
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._high, self._low = high, low
        self._behind = False  # a source's last read left more in the kernel
        self._bulk_taken = 0.0  # loop time of the last take from the bulk lane
        self._unfrozen = 0  # events queued since the last gc.freeze()

    def __len__(self) -> int:
        return len(self._prompt) + len(self._bulk)

    def put(self, event: Event) -> None:
        """Queue *event* (never blocks)."""
        scope = event_scope(event)
        if scope is not None and self._prompt_fits(scope):
            self._prompt.append((event, scope))
            for index in scope:
                self._in_prompt[index] += 1
        else:
            self._bulk.append((event, scope))
            if scope is None:
                self._unscoped += 1
            else:
                for index in scope:
                    self._pending[index] += 1
        self._ready.set()
        if len(self) > self._high:
            self._room.clear()
        self._counted(1)

    def _prompt_fits(self, scope: frozenset[int]) -> bool:
        if self._unscoped:
            return False
        pending, prompt = self._pending, self._in_prompt
        return not any(pending[i] or prompt[i] >= PROMPT_PER_LINK for i in scope)

    async def take(self, limit: int) -> list[Event]:
        """At least one event: the prompt lane's first, else up to *limit* of the bulk's."""
        while not self._prompt and not self._bulk_due():
            self._ready.clear()
            await self._wait_ready()
        if self._prompt:
            taken, _ = _take(self._prompt, limit, self._in_prompt)
        else:
            taken, unscoped = _take(self._bulk, limit, self._pending)
            self._unscoped -= unscoped
            self._bulk_taken = asyncio.get_running_loop().time()
        if len(self) < self._low:
            self._room.set()
        self._counted(len(taken))
        return taken

    def _counted(self, events: int) -> None:
        self._unfrozen += events
        if self._unfrozen >= FREEZE_EVERY:
            self._unfrozen = 0
            gc.freeze()

    def _bulk_due(self) -> bool:
        if not self._bulk:
            return False
        deferred = asyncio.get_running_loop().time() - self._bulk_taken
        return not self._behind or deferred >= BULK_DEFER

    async def _wait_ready(self) -> None:
        """Until an event comes, or (while the bulk waits for a source) the deferral ends."""
        if not self._bulk:
            await self._ready.wait()
            return
        remaining = self._bulk_taken + BULK_DEFER - asyncio.get_running_loop().time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), max(remaining, 0.0))

    async def room(self, behind: bool = False) -> None:
        """For sources, between reads (*behind*: the last read left more in the kernel): a
        turn for the loop, and a wait while the engine is more than ``high`` events behind
        (until it is under ``low``)."""
        if behind != self._behind:
            self._behind = behind
            self._ready.set()  # a waiting engine looks again
        await asyncio.sleep(0)
        await self._room.wait()


def _take(
    lane: deque[tuple[Event, Scope]], limit: int, counts: Counter[int]
) -> tuple[list[Event], int]:
    """Up to *limit* events off *lane*, each link's count in *counts* brought down; and how
    many of them had no scope."""
    taken: list[Event] = []
    unscoped = 0
    for _ in range(min(limit, len(lane))):
        event, scope = lane.popleft()
        taken.append(event)
        if scope is None:
            unscoped += 1
            continue
        for index in scope:
            left = counts[index] - 1
            if left:
                counts[index] = left
            else:
                del counts[index]
    return taken, unscoped
