"""What the API may see of the daemon: one small read-only view, never the Daemon itself.

Handlers read the engine's published State (immutable, replaced whole on every event), the
event ring buffer and the metrics. The only ways back into the daemon are a reload (the same
path as SIGHUP) and a script scan that reads the file system off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from netevd.api.metrics import Metrics
from netevd.core.config import Config
from netevd.core.state import State
from netevd.core.states import Directory
from netevd.engine import Engine
from netevd.eventlog import EventLog
from netevd.executors.scripts import ScriptExecutor, ScriptVerdict

# Per-link facts that policy routing adds (not part of the State): ifindex -> table.
Tables = Mapping[int, int]


@dataclass(frozen=True)
class ReloadResult:
    """What a reload (SIGHUP or POST /api/v1/reload) did."""

    ok: bool
    source: str  # the file read, or "defaults"
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class DaemonView(Protocol):
    """Everything the handlers need. Reading it never blocks and never changes the daemon."""

    @property
    def state(self) -> State: ...

    @property
    def ready(self) -> bool: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def config(self) -> Config: ...

    @property
    def started(self) -> float: ...

    def script_counts(self) -> tuple[int, int]: ...

    def routing_tables(self) -> Tables: ...

    async def scan_scripts(self) -> list[ScriptVerdict]: ...

    async def reload(self) -> ReloadResult: ...


def _no_tables() -> Tables:
    return {}


@dataclass
class LiveView:
    """The DaemonView of a running daemon, built by the composition root."""

    engine: Engine
    scripts: ScriptExecutor
    metrics: Metrics
    reloader: Callable[[], Awaitable[ReloadResult]]
    started: float = field(default_factory=time.time)
    tables: Callable[[], Tables] = _no_tables

    @property
    def state(self) -> State:
        return self.engine.state

    @property
    def ready(self) -> bool:
        return self.engine.ready

    @property
    def events(self) -> EventLog:
        return self.engine.events

    @property
    def config(self) -> Config:
        return self.engine.config

    def script_counts(self) -> tuple[int, int]:
        stats = self.scripts.stats
        return stats.scripts_started, stats.failures

    def routing_tables(self) -> Tables:
        return self.tables()

    async def scan_scripts(self) -> list[ScriptVerdict]:
        # Stats every script file: off the event loop.
        return await asyncio.to_thread(self.scripts.scan, [d.value for d in Directory])

    async def reload(self) -> ReloadResult:
        return await self.reloader()
