"""The gateway liveness the API, ``netevd status`` and /metrics read from the state snapshot."""

from core_helpers import addr, link, route

from netevd.core.config import MonitoringConfig
from netevd.core.events import AddressAdded, LinkChanged, LinkRemoved, NeighbourChanged, RouteAdded
from netevd.core.liveness_view import gateway_liveness, link_reachable
from netevd.core.model import AF_INET, NUD_FAILED, NUD_REACHABLE, RTPROT_NETEVD, Neigh
from netevd.core.state import State, apply_all
from netevd.telemetry.scrape import StateCollector

GATEWAY = "10.0.0.254"
NUD_STALE = 0x04


def routed(*events):
    return apply_all(
        State(),
        [
            LinkChanged(link()),
            AddressAdded(addr("10.0.0.1", prefixlen=24)),
            RouteAdded(route("0.0.0.0/0", gateway=GATEWAY)),
            *events,
        ],
    )


def entry(state, address=GATEWAY):
    return NeighbourChanged(Neigh(3, AF_INET, address, state, "02:00:00:00:00:01", RTPROT_NETEVD))


def test_unknown_until_the_kernel_has_said_reachable_or_failed():
    assert link_reachable(routed(), 3) is None  # liveness off: no entries at all
    assert link_reachable(routed(entry(NUD_STALE)), 3) is None
    assert gateway_liveness(routed(entry(NUD_STALE))) == {}


def test_failed_then_reachable_and_stale_changes_nothing():
    down = routed(entry(NUD_REACHABLE), entry(NUD_FAILED))
    assert link_reachable(down, 3) is False
    assert gateway_liveness(down) == {"eth0": False}
    up = apply_all(down, [entry(NUD_REACHABLE), entry(NUD_STALE)])
    assert link_reachable(up, 3) is True
    assert gateway_liveness(up) == {"eth0": True}


def test_an_entry_for_an_address_that_is_not_the_gateway_is_not_the_gateway_s_liveness():
    assert link_reachable(routed(entry(NUD_FAILED, "10.0.0.9")), 3) is None


def test_a_link_that_goes_takes_its_liveness_and_its_sample_with_it():
    collector = StateCollector()
    state = routed(entry(NUD_FAILED))
    collector.state = lambda: state
    collector.monitoring = MonitoringConfig
    assert samples(collector) == [({"link": "eth0"}, 0.0)]
    state = apply_all(state, [LinkRemoved(3)])
    assert gateway_liveness(state) == {}
    assert samples(collector) == []


def samples(collector):
    (family,) = [m for m in collector.collect() if m.name == "netevd_gateway_reachable"]
    return [(s.labels, s.value) for s in family.samples]
