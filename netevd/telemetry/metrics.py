"""Prometheus metrics, in a registry owned by the daemon (never the global one).

Label values come from fixed sets (event kinds, state directories, backends). The one family
labelled by interface, ``netevd_interface_state``, is computed from the published state at
scrape time, only for monitored links and at most INTERFACE_LABELS of them (the rest are
summed under ``interface="other"``), so a container host with 10,000 veths does not grow
10,000 series and a removed link's series disappears with it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from netevd import __version__
from netevd.core.config import MonitoringConfig
from netevd.core.filters import monitored
from netevd.core.routing import owned_rules
from netevd.core.state import State
from netevd.core.views import kernel_state

INTERFACE_LABELS = 64  # interface label values at most; the rest count as "other"

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

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.started = time.monotonic()
        self._add_event_metrics(self.registry)
        self._add_script_metrics(self.registry)
        self._add_netlink_metrics(self.registry)
        self._add_backend_metrics(self.registry)
        self._add_routing_metrics(self.registry)
        self.uptime = Gauge("netevd_uptime_seconds", "Seconds since start", registry=self.registry)
        self.uptime.set_function(lambda: time.monotonic() - self.started)
        self.info = Info("netevd", "Build and runtime information", registry=self.registry)
        self._add_process_metrics(self.registry)
        self.info.info({"version": __version__, "backend": "none"})
        self._snapshot = StateCollector()
        self.registry.register(self._snapshot)
        self._script_states: set[str] = set()
        self._known_labels()

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

    def _add_event_metrics(self, r: CollectorRegistry) -> None:
        self.events = Counter("netevd_events", "Events handled", ["type", "backend"], registry=r)
        self.state_changes = Counter(
            "netevd_interface_state_changes", "Script directories fired", ["state"], registry=r
        )
        self.unknown_states = Counter(
            "netevd_unknown_states",
            "States a backend reported that have no script directory",
            ["source"],
            registry=r,
        )
        self.rejected_links = Counter(
            "netevd_rejected_links", "Links whose names failed validation", registry=r
        )
        self.dropped_env = Counter(
            "netevd_env_values_dropped",
            "Environment values dropped by validation",
            ["variable"],
            registry=r,
        )

    def _add_script_metrics(self, r: CollectorRegistry) -> None:
        self.script_runs = Counter(
            "netevd_script_executions", "Scripts started", ["state"], registry=r
        )
        self.script_failures = Counter(
            "netevd_script_failures", "Scripts that failed", ["state", "reason"], registry=r
        )
        self.script_duration = Histogram(
            "netevd_script_duration_seconds",
            "Script run time",
            ["state"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "netevd_event_to_script_seconds",
            "From the event to the start of its first script",
            ["state"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.superseded = Counter(
            "netevd_script_runs_superseded", "Queued runs replaced by a newer state", registry=r
        )

    def _add_netlink_metrics(self, r: CollectorRegistry) -> None:
        self.netlink_messages = Counter(
            "netevd_netlink_messages", "Netlink messages received", ["type"], registry=r
        )
        self.netlink_errors = Counter(
            "netevd_netlink_errors", "Netlink errors", ["kind"], registry=r
        )
        self.netlink_resyncs = Counter(
            "netevd_netlink_resyncs",
            "Full re-dumps after an overrun or socket failure",
            ["reason"],
            registry=r,
        )

    def _add_backend_metrics(self, r: CollectorRegistry) -> None:
        self.source_up = Gauge(
            "netevd_source_up", "1 when a source is connected", ["source"], registry=r
        )
        self.source_restarts = Counter(
            "netevd_source_restarts",
            "Sources restarted after they failed unexpectedly",
            ["source"],
            registry=r,
        )
        self.dbus_calls = Counter(
            "netevd_dbus_calls", "D-Bus method calls made", ["service", "method"], registry=r
        )
        self.dbus_errors = Counter("netevd_dbus_errors", "D-Bus calls that failed", registry=r)
        self.dbus_rejected = Counter(
            "netevd_dbus_rejected",
            "D-Bus messages refused: wrong signature, path, type, value or sender",
            ["source", "reason"],
            registry=r,
        )
        self.source_reconnects = Counter(
            "netevd_source_reconnects",
            "Reconnections of a backend source",
            ["source"],
            registry=r,
        )

    def _add_process_metrics(self, r: CollectorRegistry) -> None:
        # Levels that must stay flat over months: a leak of tasks or of the event log shows here.
        self.tasks = Gauge("netevd_asyncio_tasks", "asyncio tasks alive", registry=r)
        self.tasks.set_function(_task_count)
        self.state_write_failures = Counter(
            "netevd_state_write_failures",
            "Writes of the state file (state_dir) that failed",
            registry=r,
        )
        self.event_log_records = Gauge(
            "netevd_event_log_records", "Events the API's ring buffer holds", registry=r
        )
        self.event_log_output = Gauge(
            "netevd_event_log_output_bytes",
            "Script output the event ring buffer holds, bytes",
            registry=r,
        )

    def _add_routing_metrics(self, r: CollectorRegistry) -> None:
        self.routing_reconciles = Counter(
            "netevd_routing_reconciles",
            "Policy-routing reconciliations, by result",
            ["result"],
            registry=r,
        )
        self.routing_conflicts = Counter(
            "netevd_routing_conflicts",
            "Routes netevd could not install because a route it does not own is in the way",
            registry=r,
        )
        # A level, not a count: /health's "routing" check as a number (the alert's signal).
        self.routing_blocked = Gauge(
            "netevd_routing_blocked_routes",
            "Routes of the policy-routing plan that a route netevd does not own holds now",
            registry=r,
        )

    def bind_state(
        self, state: Callable[[], State], monitoring: Callable[[], MonitoringConfig]
    ) -> None:
        """Where scrapes read the published state from (the engine's, once it exists)."""
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
        return generate_latest(self.registry)


def _task_count() -> float:
    """Tasks of the running loop; 0 when scraped outside one (a unit test's registry)."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:
        return 0.0


class StateCollector(Collector):
    """Gauges computed from the published state when scraped: nothing to keep up to date."""

    def __init__(self) -> None:
        self.state: Callable[[], State] | None = None
        self.monitoring: Callable[[], MonitoringConfig] = MonitoringConfig

    def collect(self) -> Iterator[Metric]:
        if self.state is None:
            return
        state = self.state()
        yield GaugeMetricFamily(
            "netevd_interfaces_total", "Interfaces the kernel has", value=len(state.links)
        )
        yield GaugeMetricFamily(
            "netevd_routing_rules_total",
            "Policy rules in the kernel, whoever owns them",
            value=len(state.rules),
        )
        yield GaugeMetricFamily(
            "netevd_routes_total",
            "Routes in the kernel, all tables",
            value=sum(len(bucket) for bucket in state.routes.values()),
        )
        # Computed here rather than after every event: a route storm must not pay for them.
        yield GaugeMetricFamily(
            "netevd_routing_rules", "Policy rules netevd owns", value=len(owned_rules(state.rules))
        )
        yield GaugeMetricFamily(
            "netevd_routes", "Routes netevd owns", value=len(state.owned_routes)
        )
        yield self._interface_states(state)

    def _interface_states(self, state: State) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "netevd_interface_state",
            "Monitored interfaces by kernel-derived state (1 per named interface)",
            labels=["interface", "state"],
        )
        monitoring = self.monitoring()
        links = sorted(
            (link for link in state.links.values() if monitored(link.name, monitoring)),
            key=lambda link: link.index,
        )
        other: Tally[str] = Tally()
        for position, link in enumerate(links):
            derived = kernel_state(state, link.index)
            if position < INTERFACE_LABELS:
                family.add_metric([link.name, derived], 1)
            else:
                other[derived] += 1
        for derived, count in sorted(other.items()):
            family.add_metric(["other", derived], count)
        return family
