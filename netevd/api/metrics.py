"""Prometheus metrics, in a registry owned by the daemon (never the global one).

Label values come from fixed sets (event kinds, state directories, backends), never from
interface names, so a container host with 10,000 veths does not grow 10,000 series.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import generate_latest

from netevd import __version__

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.started = time.monotonic()
        r = self.registry
        self.events = Counter("netevd_events", "Events handled", ["type", "backend"], registry=r)
        self.state_changes = Counter(
            "netevd_interface_state_changes", "Script directories fired", ["state"], registry=r
        )
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
        self.rejected_links = Counter(
            "netevd_rejected_links", "Links whose names failed validation", registry=r
        )
        self.dropped_env = Counter(
            "netevd_env_values_dropped",
            "Environment values dropped by validation",
            ["variable"],
            registry=r,
        )
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
        self.source_up = Gauge(
            "netevd_source_up", "1 when a source is connected", ["source"], registry=r
        )
        self.routing_rules = Gauge("netevd_routing_rules", "Policy rules netevd owns", registry=r)
        self.routes = Gauge("netevd_routes", "Routes netevd owns", registry=r)
        self.uptime = Gauge("netevd_uptime_seconds", "Seconds since start", registry=r)
        self.uptime.set_function(lambda: time.monotonic() - self.started)
        self.info = Info("netevd", "Build and runtime information", registry=r)
        self.info.info({"version": __version__, "backend": "none"})

    def set_backend(self, backend: str) -> None:
        self.info.info({"version": __version__, "backend": backend})

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
