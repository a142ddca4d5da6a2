"""Prometheus metrics, in a registry owned by the daemon (never the global one).

Label values come from fixed sets (event kinds, state directories, backends). The one family
labelled by interface, ``netevd_interface_state``, is computed from the published state at
scrape time, only for monitored links and at most INTERFACE_LABELS of them (the rest are
summed under ``interface="other"``), so a container host with 10,000 veths does not grow
10,000 series and a removed link's series disappears with it.

With ``metrics.enabled: false`` every family is a no-op that counts nothing, and
prometheus_client is never imported (a few megabytes and tens of milliseconds at every start):
nothing in netevd reads a metric back, everything only counts into them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from netevd import __version__
from netevd.core.config import MonitoringConfig
from netevd.core.state import State

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

    from netevd.telemetry.scrape import StateCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)
# Label values known in advance, exported as 0 from the start: a series that first appears at 1
# hides that first increase from rate() and increase(), so an alert would miss it.
SCRIPT_FAILURE_REASONS = ("exit", "timeout", "exec")
NETLINK_ERROR_KINDS = ("overrun", "socket", "malformed")
NETLINK_RESYNC_REASONS = ("overrun", "reconnect")
RECONCILE_RESULTS = ("applied", "error")


class Metrics:
    """Every metric netevd exports, in one registry; any layer may count into it."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self._snapshot: StateCollector | None = None
        self.registry: CollectorRegistry | None = None
        if enabled:
            from prometheus_client import CollectorRegistry

            from netevd.telemetry.scrape import StateCollector

            self.registry = CollectorRegistry(auto_describe=True)
            self._snapshot = StateCollector()
            self.registry.register(self._snapshot)
        self._add_event_metrics()
        self._add_script_metrics()
        self._add_netlink_metrics()
        self._add_backend_metrics()
        self._add_routing_metrics()
        self.uptime = self.gauge("netevd_uptime_seconds", "Seconds since start")
        self.uptime.set_function(lambda: time.monotonic() - self.started)
        self.info = cast("Info", self._make("Info", "netevd", "Build and runtime information"))
        self._add_process_metrics()
        self.info.info({"version": __version__, "backend": "none"})
        self._script_states: set[str] = set()
        self._known_labels()

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        """A counter in this registry (a no-op when metrics are off)."""
        return cast("Counter", self._make("Counter", name, doc, labels))

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return cast("Gauge", self._make("Gauge", name, doc, labels))

    def histogram(
        self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> Histogram:
        return cast("Histogram", self._make("Histogram", name, doc, labels, buckets=buckets))

    def _make(self, kind: str, name: str, doc: str, labels: Sequence[str] = (), **kw: Any) -> Any:
        if self.registry is None:
            return NULL
        import prometheus_client

        family = getattr(prometheus_client, kind)
        return family(name, doc, list(labels), registry=self.registry, **kw)

    def _known_labels(self) -> None:
        for kind in NETLINK_ERROR_KINDS:
            self.netlink_errors.labels(kind)
        for reason in NETLINK_RESYNC_REASONS:
            self.netlink_resyncs.labels(reason)
        for result in RECONCILE_RESULTS:
            self.routing_reconciles.labels(result)

    def script_state(self, state: str) -> None:
        """A directory's scripts ran: its failure series exist from now on (at 0 until one
        fails), so the first failure of a directory counts in rate() like the others."""
        if state not in self._script_states:
            self._script_states.add(state)
            for reason in SCRIPT_FAILURE_REASONS:
                self.script_failures.labels(state, reason)

    def _add_event_metrics(self) -> None:
        self.events = self.counter("netevd_events", "Events handled", ["type", "backend"])
        self.state_changes = self.counter(
            "netevd_interface_state_changes", "Script directories fired", ["state"]
        )
        self.unknown_states = self.counter(
            "netevd_unknown_states",
            "States a backend reported that have no script directory",
            ["source"],
        )
        self.rejected_links = self.counter(
            "netevd_rejected_links", "Links whose names failed validation"
        )
        self.dropped_env = self.counter(
            "netevd_env_values_dropped", "Environment values dropped by validation", ["variable"]
        )

    def _add_script_metrics(self) -> None:
        self.script_runs = self.counter("netevd_script_executions", "Scripts started", ["state"])
        self.script_failures = self.counter(
            "netevd_script_failures", "Scripts that failed", ["state", "reason"]
        )
        self.script_duration = self.histogram(
            "netevd_script_duration_seconds", "Script run time", ["state"], DURATION_BUCKETS
        )
        self.latency = self.histogram(
            "netevd_event_to_script_seconds",
            "From the event to the start of its first script",
            ["state"],
            LATENCY_BUCKETS,
        )
        self.superseded = self.counter(
            "netevd_script_runs_superseded", "Queued runs replaced by a newer state"
        )

    def _add_netlink_metrics(self) -> None:
        self.netlink_messages = self.counter(
            "netevd_netlink_messages", "Netlink messages received", ["type"]
        )
        self.netlink_errors = self.counter("netevd_netlink_errors", "Netlink errors", ["kind"])
        self.netlink_resyncs = self.counter(
            "netevd_netlink_resyncs", "Full re-dumps after an overrun or socket failure", ["reason"]
        )

    def _add_backend_metrics(self) -> None:
        self.source_up = self.gauge("netevd_source_up", "1 when a source is connected", ["source"])
        self.source_restarts = self.counter(
            "netevd_source_restarts", "Sources restarted after they failed unexpectedly", ["source"]
        )
        self.dbus_calls = self.counter(
            "netevd_dbus_calls", "D-Bus method calls made", ["service", "method"]
        )
        self.dbus_errors = self.counter("netevd_dbus_errors", "D-Bus calls that failed")
        self.dbus_rejected = self.counter(
            "netevd_dbus_rejected",
            "D-Bus messages refused: wrong signature, path, type, value or sender",
            ["source", "reason"],
        )
        self.source_reconnects = self.counter(
            "netevd_source_reconnects", "Reconnections of a backend source", ["source"]
        )

    def _add_process_metrics(self) -> None:
        # Levels that must stay flat over months: a leak of tasks or of the event log shows here.
        self.tasks = self.gauge("netevd_asyncio_tasks", "asyncio tasks alive")
        self.tasks.set_function(_task_count)
        self.state_write_failures = self.counter(
            "netevd_state_write_failures", "Writes of the state file (state_dir) that failed"
        )
        self.event_log_records = self.gauge(
            "netevd_event_log_records", "Events the API's ring buffer holds"
        )
        self.event_log_output = self.gauge(
            "netevd_event_log_output_bytes", "Script output the event ring buffer holds, bytes"
        )

    def _add_routing_metrics(self) -> None:
        self.routing_reconciles = self.counter(
            "netevd_routing_reconciles", "Policy-routing reconciliations, by result", ["result"]
        )
        self.routing_conflicts = self.counter(
            "netevd_routing_conflicts",
            "Routes netevd could not install because a route it does not own is in the way",
        )
        # A level, not a count: /health's "routing" check as a number (the alert's signal).
        self.routing_blocked = self.gauge(
            "netevd_routing_blocked_routes",
            "Routes of the policy-routing plan that a route netevd does not own holds now",
        )

    def bind_state(
        self, state: Callable[[], State], monitoring: Callable[[], MonitoringConfig]
    ) -> None:
        """Where scrapes read the published state from (the engine's, once it exists)."""
        if self._snapshot is not None:
            self._snapshot.state = state
            self._snapshot.monitoring = monitoring

    def bind_process(self, records: Callable[[], int], output: Callable[[], int]) -> None:
        """Where scrapes read the event log's size (what a soak watches stay flat)."""
        self.event_log_records.set_function(lambda: float(records()))
        self.event_log_output.set_function(lambda: float(output()))

    def bind_routing(self, blocked: Callable[[], int]) -> None:
        """Where scrapes read how many planned routes are blocked (the routing executor)."""
        self.routing_blocked.set_function(lambda: float(blocked()))

    def set_backend(self, backend: str) -> None:
        self.info.info({"version": __version__, "backend": backend})

    def exposition(self) -> bytes:
        """The Prometheus text of every family (nothing when metrics are off)."""
        if self.registry is None:
            return b""
        from prometheus_client.exposition import generate_latest

        return generate_latest(self.registry)


def _task_count() -> float:
    """Tasks of the running loop; 0 when scraped outside one (a unit test's registry)."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:
        return 0.0


class _Null:
    """Every family when metrics are off: labels() gives itself, everything else does nothing."""

    def labels(self, *values: str, **named: str) -> _Null:
        return self

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _nothing


def _nothing(*args: object, **kwargs: object) -> None:
    return None


NULL = _Null()
