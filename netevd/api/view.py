"""What the API may see of the daemon: one small read-only view protocol, never the Daemon.

Handlers read the engine's published State (immutable, replaced whole on every event), the
event ring buffer and the metrics. The only ways back into the daemon are a reload (the same
path as SIGHUP) and a script scan that reads the file system off the event loop. The concrete
view is built by the composition root (netevd.app); the API imports no engine, source or
executor (import-linter's contracts in pyproject.toml say so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from netevd.core.config import Config
from netevd.core.scripts import ScriptVerdict
from netevd.core.state import State
from netevd.telemetry.eventlog import EventLog
from netevd.telemetry.metrics import Metrics

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

    def routing_conflicts(self) -> tuple[str, ...]: ...

    def degraded(self) -> Mapping[str, str]: ...

    async def scan_scripts(self) -> list[ScriptVerdict]: ...

    async def reload(self) -> ReloadResult: ...
