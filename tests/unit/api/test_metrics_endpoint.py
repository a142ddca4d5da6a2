"""GET /metrics: parseable Prometheus text, upstream names, counters that move, bounded labels."""

from prometheus_client.parser import text_string_to_metric_families

from netevd.core.config import MonitoringConfig
from netevd.core.events import AddressAdded, RunDropped, ScriptFinished
from netevd.core.kinds import EventKind
from netevd.core.model import AF_INET, IFF_LOWER_UP, IFF_UP, Addr, Link
from netevd.core.records import Record
from netevd.core.state import State
from netevd.telemetry.eventlog import EventLog
from netevd.telemetry.latency import ScriptLatency
from netevd.telemetry.metrics import Metrics
from netevd.telemetry.scrape import INTERFACE_LABELS, StateCollector

UPSTREAM = {
    "netevd_events",
    "netevd_script_executions",
    "netevd_script_duration_seconds",
    "netevd_script_failures",
    "netevd_interface_state_changes",
    "netevd_routing_rules_total",
    "netevd_routes_total",
    "netevd_netlink_messages",
    "netevd_netlink_errors",
    "netevd_dbus_calls",
    "netevd_uptime_seconds",
    "netevd_info",
}
OURS = {
    "netevd_event_to_script_seconds",
    "netevd_netlink_resyncs",
    "netevd_routing_reconciles",
    "netevd_source_up",
    "netevd_interface_state",
    "netevd_interfaces_total",
}


async def scrape(api) -> dict:
    async with api.session.get(api.base + "/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families, name, **labels):
    for family in families.values():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


async def test_metrics_parse_and_counters_move(make_api):
    api = await make_api()
    families = await scrape(api)
    assert set(families) >= UPSTREAM | OURS
    assert sample(families, "netevd_info", backend="none") == 1
    before = sample(families, "netevd_events_total", type="AddressAdded") or 0
    api.engine.handle(AddressAdded(Addr(3, AF_INET, "10.0.0.77", 24)))
    api.finished(3, code=1)
    families = await scrape(api)
    assert sample(families, "netevd_events_total", type="AddressAdded") == before + 1
    assert sample(families, "netevd_script_executions_total", state="routable") == 1
    assert sample(families, "netevd_script_failures_total", state="routable", reason="exit") == 1
    assert sample(families, "netevd_interfaces_total") == 3
    assert sample(families, "netevd_routes_total") == 6
    assert sample(families, "netevd_routing_rules_total") == 4
    assert sample(families, "netevd_interface_state", interface="eth0", state="routable") == 1
    assert sample(families, "netevd_interface_state", interface="lo") is None  # not monitored


async def test_metrics_disabled(make_api):
    api = await make_api(metrics=False)
    status, body = await api.get("/metrics")
    assert status == 404
    assert body["error"] == "metrics are disabled (metrics.enabled: false)"


def test_interface_labels_are_capped_and_follow_monitoring():
    links = {
        i: Link(i, f"{'veth' if i % 2 else 'eth'}{i}", IFF_UP | IFF_LOWER_UP) for i in range(2, 400)
    }
    collector = StateCollector()
    collector.state = lambda: State(links=links)
    collector.monitoring = lambda: MonitoringConfig(exclude=("lo", "veth*"))
    (family,) = [f for f in collector.collect() if f.name == "netevd_interface_state"]
    names = [s.labels["interface"] for s in family.samples]
    assert len(names) == INTERFACE_LABELS + 1
    assert not any(name.startswith("veth") for name in names)
    assert names[0] == "eth2"  # the oldest links keep their names
    (other,) = [s for s in family.samples if s.labels["interface"] == "other"]
    assert other.value == 199 - INTERFACE_LABELS  # 199 eth links in all
    assert other.labels["state"] == "carrier"


def test_latency_is_timed_to_the_first_script_of_each_run():
    metrics = Metrics()
    log = EventLog()
    log.add(Record(7, 100.0, EventKind.LINK, "kernel"))
    latency = ScriptLatency(metrics, log, clock=lambda: 100.7)

    def finished(script: str, duration: float) -> ScriptFinished:
        return ScriptFinished(7, "carrier", 3, "eth0", script, 0, duration, False, "", "")

    latency(finished("/s/10-a", 0.5))  # started at 100.2: 0.2 s after the event
    latency(finished("/s/20-b", 0.1))  # waited for 10-a: not latency
    latency(RunDropped(7, "carrier", 3, "eth0", 8))
    families = {f.name: f for f in metrics.registry.collect()}
    samples = families["netevd_event_to_script_seconds"].samples
    count = next(s.value for s in samples if s.name.endswith("_count"))
    total = next(s.value for s in samples if s.name.endswith("_sum"))
    assert count == 1
    assert abs(total - 0.2) < 1e-9
