"""Prometheus counters of the dhclient source, registered on the daemon's own registry.

They live here rather than in :class:`netevd.telemetry.metrics.Metrics` so the source can be added
without touching the shared metrics module; one set per registry (a second source on the same
registry, as in tests, shares it instead of failing on a duplicate name).
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from netevd.telemetry.metrics import Metrics


class LeaseMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.refused = metrics.counter(
            "netevd_lease_files_refused",
            "Lease files not believed: too large, not regular, unreadable, cut off mid-write",
            ["reason"],
        )
        self.problems = metrics.counter(
            "netevd_lease_problems",
            "Lease file statements or values skipped as invalid",
            ["kind"],
        )


_BY_REGISTRY: WeakKeyDictionary[Metrics, LeaseMetrics] = WeakKeyDictionary()


def lease_metrics(metrics: Metrics) -> LeaseMetrics:
    found = _BY_REGISTRY.get(metrics)
    if found is None:
        found = _BY_REGISTRY[metrics] = LeaseMetrics(metrics)
    return found
