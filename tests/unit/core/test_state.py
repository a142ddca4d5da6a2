from dataclasses import replace

from core_helpers import addr, link, route

from netevd.core.config import Config
from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    ConfigReloaded,
    KernelSnapshot,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
    SourceStatus,
)
from netevd.core.model import AF_INET, Route, Rule
from netevd.core.state import State, apply, apply_all, expand_snapshot, touched_links
from netevd.core.views import gateway, has_route_out


def test_links_are_keyed_by_index_and_renames_update_the_name():
    state = apply(State(), LinkChanged(link(3, "eth0")))
    state = apply(state, LinkChanged(link(3, "wan0")))
    assert state.links[3].name == "wan0"
    assert state.link_by_name("eth0") is None
    assert state.link_by_name("wan0") == state.links[3]


def test_address_add_remove_and_idempotence():
    a = addr("10.0.0.1")
    state = apply_all(State(), [LinkChanged(link()), AddressAdded(a), AddressAdded(a)])
    assert list(state.link_addrs(3)) == [a]
    state = apply(state, AddressRemoved(a))
    assert list(state.link_addrs(3)) == []
    assert 3 not in state.addrs
    assert apply(state, AddressRemoved(a)) is state


def test_removing_one_address_keeps_the_others():
    a, b = addr("10.0.0.1"), addr("fd00::1")
    state = apply_all(State(), [AddressAdded(a), AddressAdded(b), AddressRemoved(a)])
    assert list(state.link_addrs(3)) == [b]


def test_routes_are_bucketed_by_oif_and_removed_with_their_link():
    r1, r2 = route("10.1.0.0/16", oif=3), route("10.2.0.0/16", oif=4)
    state = apply_all(State(), [LinkChanged(link(3)), RouteAdded(r1), RouteAdded(r2)])
    assert set(state.all_routes()) == {r1, r2}
    assert list(state.link_routes(4)) == [r2]
    state = apply(state, AddressAdded(addr("10.0.0.1")))
    state = apply(state, LinkRemoved(3))
    assert list(state.all_routes()) == [r2]
    assert 3 not in state.links
    assert 3 not in state.addrs


def test_route_remove_is_idempotent_and_empties_buckets():
    r = route("10.1.0.0/16")
    state = apply(State(), RouteAdded(r))
    assert apply(state, RouteRemoved(route("10.9.0.0/16"))) is state
    assert apply(State(), RouteRemoved(r)) == State()
    state = apply_all(state, [RouteAdded(route("10.3.0.0/16")), RouteRemoved(r)])
    assert [x.dst for x in state.link_routes(3)] == ["10.3.0.0/16"]
    state = apply(state, RouteRemoved(route("10.3.0.0/16")))
    assert dict(state.routes) == {}


def test_route_replace_keeps_one_entry_per_kernel_key():
    old = route("0.0.0.0/0", gateway="10.0.0.1")
    new = replace(old, gateway="10.0.0.254")
    state = apply_all(State(), [RouteAdded(old), RouteAdded(new)])
    assert list(state.all_routes()) == [new]
    six_a = route("::/0", gateway="fe80::1")
    six_b = route("::/0", gateway="fe80::2")
    assert len(list(apply_all(State(), [RouteAdded(six_a), RouteAdded(six_b)]).all_routes())) == 2


def test_rules_sources_and_neutral_events():
    rule = Rule(family=AF_INET, priority=100, table=300, src="10.0.0.1/32")
    state = apply(State(), RuleAdded(rule))
    assert state.rules == {rule}
    assert apply(state, RuleRemoved(rule)).rules == frozenset()
    state = apply(state, SourceStatus("netlink", True))
    assert dict(state.sources) == {"netlink": True}
    assert apply(state, ConfigReloaded(Config())) is state


def test_snapshot_expands_to_the_difference():
    a1, a2 = addr("10.0.0.1"), addr("10.0.0.2")
    r1, r2 = route("10.1.0.0/16"), route("10.2.0.0/16")
    rule1 = Rule(family=AF_INET, priority=1, table=300)
    rule2 = Rule(family=AF_INET, priority=2, table=300)
    before = apply_all(
        State(),
        [
            LinkChanged(link(3)),
            LinkChanged(link(4, "gone")),
            AddressAdded(a1),
            RouteAdded(r1),
            RuleAdded(rule1),
        ],
    )
    snap = KernelSnapshot(links=(link(3, "renamed"),), addrs=(a2,), routes=(r2,), rules=(rule2,))
    events = expand_snapshot(before, snap)
    assert events == [
        LinkChanged(link(3, "renamed")),
        AddressRemoved(a1),
        AddressAdded(a2),
        RouteRemoved(r1),
        RouteAdded(r2),
        RuleRemoved(rule1),
        RuleAdded(rule2),
        LinkRemoved(4),
    ]
    after = apply_all(before, events)
    assert expand_snapshot(after, snap) == []
    assert dict(after.links) == {3: link(3, "renamed")}


def test_touched_links():
    assert touched_links(LinkChanged(link(7))) == {7}
    assert touched_links(LinkRemoved(7)) == {7}
    assert touched_links(AddressRemoved(addr("10.0.0.1", index=5))) == {5}
    assert touched_links(RouteAdded(route("10.0.0.0/8", oif=0))) == set()
    assert touched_links(RouteRemoved(route("10.0.0.0/8", oif=9))) == {9}
    assert touched_links(SourceStatus("x", True)) == set()


def test_expand_routes_covers_silent_flushes():
    from netevd.core.state import expand_routes

    kept, flushed, changed = route("10.1.0.0/16"), route("10.2.0.0/16"), route("10.3.0.0/16")
    state = apply_all(State(), [RouteAdded(kept), RouteAdded(flushed), RouteAdded(changed)])
    new_changed = replace(changed, gateway="10.0.0.9")
    assert expand_routes(state, [kept, new_changed]) == [
        RouteRemoved(flushed),
        RouteAdded(new_changed),
    ]
    assert expand_routes(state, [kept, flushed, changed]) == []


def test_ways_out_follow_routes_that_come_go_and_are_replaced():
    """has_route_out reads a count kept by apply, not a scan of the link's routes."""
    local = Route(family=2, table=255, dst="10.0.0.1/32", oif=3, type=2)
    six_ll = Route(family=10, table=254, dst="fe80::/64", oif=3)
    out = Route(family=2, table=254, dst="10.0.0.0/24", oif=3)
    state = apply_all(State(), [LinkChanged(link(3)), RouteAdded(local), RouteAdded(six_ll)])
    assert not has_route_out(state, 3, 2)
    assert not has_route_out(state, 3, 10)
    state = apply(state, RouteAdded(out))
    assert has_route_out(state, 3, 2)
    # Replaced by a route of the same kernel key that leads nowhere: the count follows.
    state = apply(state, RouteAdded(Route(family=2, table=254, dst="10.0.0.0/24", oif=3, type=6)))
    assert not has_route_out(state, 3, 2)
    state = apply_all(state, [RouteAdded(out), RouteRemoved(out)])
    assert not has_route_out(state, 3, 2)
    state = apply_all(state, [RouteAdded(out), LinkRemoved(3)])
    assert dict(state.ways_out) == {}


def test_default_routes_are_kept_apart_for_the_gateway():
    low = Route(family=2, table=254, dst="0.0.0.0/0", gateway="10.0.0.1", oif=3, priority=100)
    high = Route(family=2, table=254, dst="0.0.0.0/0", gateway="10.0.0.2", oif=3, priority=50)
    other = Route(family=2, table=254, dst="10.9.0.0/16", gateway="10.0.0.9", oif=3)
    state = apply_all(State(), [LinkChanged(link(3)), RouteAdded(low), RouteAdded(other)])
    assert gateway(state, 3, 2) == "10.0.0.1"
    state = apply(state, RouteAdded(high))
    assert gateway(state, 3, 2) == "10.0.0.2"
    state = apply(state, RouteRemoved(high))
    assert gateway(state, 3, 2) == "10.0.0.1"
    assert apply(state, LinkRemoved(3)).defaults.get(3) is None
