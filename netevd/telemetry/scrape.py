"""The gauges computed from the published state when /metrics is scraped (prometheus_client's
Collector): imported only with metrics on."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netevd.core.config import MonitoringConfig
from netevd.core.filters import monitored
from netevd.core.liveness_view import gateway_liveness
from netevd.core.routing import owned_rules
from netevd.core.state import State
from netevd.core.views import kernel_state

INTERFACE_LABELS = 64  # interface label values at most; the rest count as "other"


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
        yield self._gateway_liveness(state)

    def _gateway_liveness(self, state: State) -> GaugeMetricFamily:
        # Read from the snapshot at each scrape: a link that goes takes its sample with it, and
        # only monitored links with a known verdict appear (at most INTERFACE_LABELS of them).
        family = GaugeMetricFamily(
            "netevd_gateway_reachable",
            "1 while a monitored link's gateway answers, 0 while it does not (gateway_liveness)",
            labels=["link"],
        )
        monitoring = self.monitoring()
        known = gateway_liveness(state)
        names = [name for name in known if monitored(name, monitoring)][:INTERFACE_LABELS]
        for name in names:
            family.add_metric([name], 1 if known[name] else 0)
        return family

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
