"""The engine: the one loop that changes state, a thin asyncio shell around the pure step.

Take what is queued (netevd.engine.intake, at most BATCH events) → ``core.step.step_many`` →
account for what it recorded → hand its actions to the executors → give the loop a turn.
Sources and executors only put events on the intake; nothing else writes the state, so there
are no locks. Between batches the API answers from the last published state and signals are
seen, so a storm neither stalls a request nor a SIGTERM for longer than one batch. The
configuration in force lives here, and only here: a reload arrives as an event and takes
effect through the step's ConfigApplied action.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from netevd.core.actions import Action, ConfigApplied
from netevd.core.config import Config
from netevd.core.events import Event, RunDropped, ScriptFinished
from netevd.core.state import State
from netevd.core.step import Step, World, require, step, step_many, with_backend
from netevd.engine.accounting import Accounting
from netevd.engine.intake import Intake
from netevd.telemetry.eventlog import EventLog
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.engine")

Dispatch = Callable[[Action], None]
BATCH = 64  # events per step (about a millisecond), after which the loop gets a turn

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
        self.intake = Intake()
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
        self.intake.put(event)

    async def room(self, behind: bool = False) -> None:
        """For sources between reads: see Intake.room."""
        await self.intake.room(behind)

    async def run(self) -> None:
        while True:
            events = await self.intake.take(BATCH)
            try:
                self.handle_many(events)
            except Exception:
                # One bad event must not stop the daemon; the traceback is for the developer.
                log.exception("engine.error events=%d", len(events))
            await asyncio.sleep(0)  # the API, the sources and the signals get their turn

    def handle(self, event: Event) -> None:
        self.handle_many([event])

    def handle_many(self, events: list[Event]) -> None:
        """Step through *events* at once; executors' reports are accounted for on the way."""
        changes = [e for e in events if not isinstance(e, ScriptFinished | RunDropped)]
        now = self._clock()
        try:
            result = step_many(self.world, changes, self.config, now)
        except Exception:
            if len(changes) < 2:
                raise
            # The step is pure, nothing is half applied: one by one, so that only the event
            # that fails is lost.
            log.exception("engine.error batch=%d (handled one by one)", len(changes))
            for change in changes:
                self._step_alone(change, now)
        else:
            self._apply(result)
        for report in events:
            if isinstance(report, ScriptFinished | RunDropped):
                self._accounting.report(report)

    def _step_alone(self, event: Event, now: float) -> None:
        try:
            result = step(self.world, event, self.config, now)
        except Exception:
            log.exception("engine.error event=%s", type(event).__name__)
            return
        self._apply(result)

    def _apply(self, result: Step) -> None:
        self.world = result.world
        self._accounting.record(result)
        for action in self._accounting.local(result.actions):
            if isinstance(action, ConfigApplied):
                self.config = action.config
            self._dispatch(action)

    def require_sources(self, names: Iterable[str]) -> None:
        """READY=1 also waits for these sources' first answer."""
        self.world = require(self.world, names)

    def set_unscripted(self, directories: Iterable[str]) -> None:
        """The directories the script executor found with no entry before the first dump."""
        self.world = replace(self.world, unscripted=frozenset(directories))

    def set_backend(self, backend: str) -> None:
        self.world = with_backend(self.world, backend)
        self._accounting.metrics.set_backend(backend)
