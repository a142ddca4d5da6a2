from core_helpers import UP, addr, link, route

from netevd.core.events import AddressAdded, LinkChanged, RouteAdded
from netevd.core.model import IFF_UP, Addr
from netevd.core.state import State, apply_all
from netevd.core.views import view


def state_with(*events):
    return apply_all(State(), [LinkChanged(link()), *events])


def test_kernel_states():
    assert view(apply_all(State(), [LinkChanged(link(flags=0))]), 3).kernel_state == "off"
    assert (
        view(apply_all(State(), [LinkChanged(link(flags=IFF_UP))]), 3).kernel_state == "no-carrier"
    )
    assert view(state_with(), 3).kernel_state == "carrier"
    assert view(state_with(AddressAdded(addr("fe80::1"))), 3).kernel_state == "degraded"
    # a global address but no route out is still degraded
    assert view(state_with(AddressAdded(addr("10.0.0.1"))), 3).kernel_state == "degraded"
    routable = state_with(AddressAdded(addr("10.0.0.1")), RouteAdded(route("10.0.0.0/24")))
    assert view(routable, 3).kernel_state == "routable"
    wrong_family = state_with(AddressAdded(addr("10.0.0.1")), RouteAdded(route("fd00::/64")))
    assert view(wrong_family, 3).kernel_state == "degraded"
    v6_link_local_route = state_with(AddressAdded(addr("fd00::1")), RouteAdded(route("fe80::/64")))
    assert view(v6_link_local_route, 3).kernel_state == "degraded"
    local_only = state_with(
        AddressAdded(addr("10.0.0.1")), RouteAdded(route("10.0.0.1/32", table=255))
    )
    assert view(local_only, 3).kernel_state == "degraded"
    host_scope = Addr(index=3, family=2, address="127.0.0.2", prefixlen=8, scope=254)
    assert (
        view(state_with(AddressAdded(host_scope), RouteAdded(route("10.0.0.0/8"))), 3).kernel_state
        == "degraded"
    )


def test_addresses_are_sorted_v4_first_and_exclude_link_local():
    state = state_with(
        *(
            AddressAdded(addr(a))
            for a in ("fd00::2", "fe80::1", "10.0.0.9", "10.0.0.10", "169.254.1.1")
        )
    )
    assert view(state, 3).addresses == ("10.0.0.9/24", "10.0.0.10/24", "fd00::2/64")


def test_gateways_come_from_the_main_table_lowest_metric():
    state = state_with(
        RouteAdded(route("0.0.0.0/0", gateway="10.0.0.1", priority=100)),
        RouteAdded(route("0.0.0.0/0", gateway="10.0.0.254", priority=50, table=254)),
        RouteAdded(route("0.0.0.0/0", gateway="10.9.9.9", table=300)),
        RouteAdded(route("::/0", gateway="fe80::1", priority=1024)),
        RouteAdded(route("0.0.0.0/0", gateway="", oif=3, priority=1)),
    )
    current = view(state, 3)
    assert current.gateway == "10.0.0.254"
    assert current.gateway6 == "fe80::1"
    assert view(state, 99) is None
    assert current.carrier is True
    assert link().flags == UP
