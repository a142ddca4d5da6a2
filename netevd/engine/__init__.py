"""The engine: the one loop that changes state, a thin asyncio shell around the pure step.

``await queue.get()`` → ``core.step.step`` → account for what it recorded → hand its actions to
the executors. Sources and executors only put events on the queue; nothing else writes the
state, so there are no locks. The configuration in force lives here, and only here: a reload
arrives as an event and takes effect through the step's ConfigApplied action.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from netevd.core.actions import Action, ConfigApplied
from netevd.core.config import Config
from netevd.core.events import Event, RunDropped, ScriptFinished
from netevd.core.state import State
from netevd.core.step import World, require, step, with_backend
from netevd.engine.accounting import Accounting
from netevd.telemetry.eventlog import EventLog
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.engine")

Dispatch = Callable[[Action], None]

__all__ = ["Dispatch", "Engine"]


class Engine:
    def __init__(
        self,
        config: Config,
        dispatch: Dispatch,
        metrics: Metrics,
        *,
        backend: str = "none",
        clock: Callable[[], float] = time.time,
        events: EventLog | None = None,
    ) -> None:
        self.config = config
        self.events = events if events is not None else EventLog()
        self.world = with_backend(World(), backend)
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._dispatch = dispatch
        self._clock = clock
        self._accounting = Accounting(metrics, self.events)
        metrics.set_backend(backend)

    @property
    def state(self) -> State:
        """The published state: immutable, replaced whole by every step."""
        return self.world.state

    @property
    def ready(self) -> bool:
        return self.world.ready

    def emit(self, event: Event) -> None:
        """For sources and executors: queue an event (never blocks)."""
        self.queue.put_nowait(event)

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                self.handle(event)
            except Exception:
                # One bad event must not stop the daemon; the traceback is for the developer.
                log.exception("engine.error event=%s", type(event).__name__)

    def handle(self, event: Event) -> None:
        if isinstance(event, ScriptFinished | RunDropped):
            self._accounting.report(event)
            return
        result = step(self.world, event, self.config, self._clock())
        self.world = result.world
        self._accounting.record(result)
        for action in self._accounting.local(result.actions):
            if isinstance(action, ConfigApplied):
                self.config = action.config
            self._dispatch(action)

    def require_sources(self, names: Iterable[str]) -> None:
        """READY=1 also waits for these sources' first answer."""
        self.world = require(self.world, names)

    def set_backend(self, backend: str) -> None:
        self.world = with_backend(self.world, backend)
        self._accounting.metrics.set_backend(backend)
