from dataclasses import replace

from core_helpers import addr, ctx, link, route

from netevd.core.actions import AssignTables, Note, ReconcileRouting
from netevd.core.config import Config, RoutingConfig
from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
    TablesAssigned,
)
from netevd.core.model import AF_INET, AF_INET6, RTPROT_NETEVD, Route, Rule
from netevd.core.react.kernel import react
from netevd.core.react.routing import relevant, routing_actions
from netevd.core.routing import (
    Changes,
    Plan,
    allocate_tables,
    desired,
    diff,
    policy_links,
)
from netevd.core.state import State, apply, apply_all

P = RTPROT_NETEVD
CONFIG = Config(routing=RoutingConfig(policy_rules=("eth1",)))


def host(*events):
    """eth0 (index 2) is the primary uplink, eth1 (index 3) is under policy routing."""
    return apply_all(
        State(),
        [
            LinkChanged(link(2, "eth0")),
            LinkChanged(link(3, "eth1")),
            AddressAdded(addr("10.0.1.2", index=2)),
            AddressAdded(addr("10.0.2.2", index=3)),
            AddressAdded(addr("fd00:2::2", index=3)),
            AddressAdded(addr("fe80::2", index=3)),
            RouteAdded(route("0.0.0.0/0", oif=2, gateway="10.0.1.1", priority=100)),
            RouteAdded(route("0.0.0.0/0", oif=3, gateway="10.0.2.1", priority=200)),
            RouteAdded(route("::/0", oif=3, gateway="fe80::1", priority=1024)),
            *events,
        ],
    )


def test_plan_for_ipv4_and_ipv6_with_gateways():
    state = host()
    tables = allocate_tables(state, CONFIG)
    assert tables == {"eth1": 203}
    plan = desired(state, CONFIG, tables)
    assert plan.rules == {
        Rule(AF_INET, 30000, 203, src="10.0.2.2/32", protocol=P),
        Rule(AF_INET, 30001, 203, dst="10.0.2.2/32", protocol=P),
        Rule(AF_INET6, 30000, 203, src="fd00:2::2/128", protocol=P),
        Rule(AF_INET6, 30001, 203, dst="fd00:2::2/128", protocol=P),
    }
    assert plan.routes == {
        Route(AF_INET, 203, "10.0.2.0/24", oif=3, protocol=P, scope=253, prefsrc="10.0.2.2"),
        Route(AF_INET, 203, "0.0.0.0/0", gateway="10.0.2.1", oif=3, protocol=P),
        Route(AF_INET6, 203, "fd00:2::/64", oif=3, protocol=P, priority=1024),
        Route(AF_INET6, 203, "::/0", gateway="fe80::1", oif=3, protocol=P, priority=1024),
    }


def test_several_addresses_and_no_to_rules():
    state = host(
        AddressAdded(addr("10.0.2.3", index=3)),
        AddressAdded(addr("10.0.9.9", index=3, prefixlen=32)),
    )
    config = Config(routing=RoutingConfig(policy_rules=("eth*",), to_rules=False, priority=500))
    tables = allocate_tables(state, config)
    assert tables == {"eth0": 202, "eth1": 203}
    plan = desired(state, config, tables)
    eth1_from = sorted(r.src for r in plan.rules if r.table == 203)
    assert eth1_from == ["10.0.2.2/32", "10.0.2.3/32", "10.0.9.9/32", "fd00:2::2/128"]
    assert {r.priority for r in plan.rules} == {500}
    # one prefix route per network, none for a /32
    prefixes = sorted(r.dst for r in plan.routes if r.table == 203 and not r.gateway)
    assert prefixes == ["10.0.2.0/24", "fd00:2::/64"]


def test_gateway_appears_changes_and_vanishes():
    no_gw = apply(host(), RouteRemoved(route("0.0.0.0/0", oif=3, gateway="10.0.2.1", priority=200)))
    plan = desired(no_gw, CONFIG, {"eth1": 203})
    assert not any(r.dst == "0.0.0.0/0" for r in plan.routes)
    assert any(r.src == "10.0.2.2/32" for r in plan.rules)  # rules stay without a gateway
    moved = apply(host(), RouteAdded(route("0.0.0.0/0", oif=3, gateway="10.0.2.254", priority=200)))
    (default,) = [r for r in desired(moved, CONFIG, {"eth1": 203}).routes if r.dst == "0.0.0.0/0"]
    assert default.gateway == "10.0.2.254"


def test_pinned_tables_and_clashes():
    state = host(RouteAdded(route("10.8.0.0/16", oif=2, table=203, protocol=4)))
    # 203 holds a route netevd does not own: take the next free one
    assert allocate_tables(state, CONFIG) == {"eth1": 204}
    pinned = Config(routing=RoutingConfig(policy_rules=("eth1",), tables=(("eth1", 310),)))
    assert allocate_tables(state, pinned) == {"eth1": 310}
    # 200 + 54 = 254 is table main: never; 253 and 255 neither
    at_main = apply_all(State(), [LinkChanged(link(54, "eth1")), LinkChanged(link(53, "eth9"))])
    config = Config(routing=RoutingConfig(policy_rules=("eth1", "eth9")))
    assert allocate_tables(at_main, config) == {"eth1": 256, "eth9": 257}
    # what was assigned before (persisted) is kept
    kept = replace(at_main, tables={"eth1": 700})
    assert allocate_tables(kept, config)["eth1"] == 700
    # a persisted table another interface pins is not reused
    clash = Config(routing=RoutingConfig(policy_rules=("eth1", "eth9"), tables=(("eth9", 700),)))
    assert allocate_tables(kept, clash) == {"eth1": 256, "eth9": 700}


def test_policy_links_skip_unsafe_names():
    state = apply(host(), LinkChanged(link(9, "eth1$(x)")))
    config = Config(routing=RoutingConfig(policy_rules=("eth1*",)))
    assert [x.name for x in policy_links(state, config)] == ["eth1"]
    assert policy_links(state, Config()) == []


def test_diff_touches_only_netevd_objects():
    mine = Rule(AF_INET, 30000, 203, src="10.0.2.2/32", protocol=P)
    stale = Rule(AF_INET, 30000, 203, src="10.0.2.9/32", protocol=P)
    users = Rule(AF_INET, 100, 203, src="10.0.2.9/32", protocol=4)
    r_mine = Route(AF_INET, 203, "0.0.0.0/0", gateway="10.0.2.1", oif=3, protocol=P)
    r_stale = Route(AF_INET, 205, "0.0.0.0/0", gateway="10.0.2.1", oif=3, protocol=P)
    r_user = Route(AF_INET, 203, "10.7.0.0/16", gateway="10.0.2.1", oif=3, protocol=4)
    plan = Plan(frozenset({mine}), frozenset({r_mine}))
    changes = diff(plan, [users, stale], [r_user, r_stale])
    assert changes == Changes(
        add_rules=(mine,), del_rules=(stale,), add_routes=(r_mine,), del_routes=(r_stale,)
    )
    # applying twice is a no-op: everything planned present, nothing stale
    assert not diff(plan, [mine, users], [r_mine, r_user])
    # adopted as is when the kernel reports extra fields (an IPv4 metric of 0, say)
    assert not diff(plan, [mine], [replace(r_mine, scope=0, type=1)])


def test_routing_actions_assign_then_reconcile_until_converged():
    state = host()
    actions = routing_actions(State(), state, None, CONFIG)
    assert [type(a) for a in actions] == [AssignTables, ReconcileRouting]
    assert actions[0].tables == (("eth1", 203),)
    assert actions[0].moved == ()
    state = apply(state, TablesAssigned((("eth1", 203),)))
    plan = actions[1]
    converged = apply_all(
        state, [*(RuleAdded(r) for r in plan.rules), *(RouteAdded(r) for r in plan.routes)]
    )
    assert routing_actions(state, converged, None, CONFIG) == []
    # someone deletes one of netevd's rules: the plan is applied again
    gone = next(iter(plan.rules))
    after = apply(converged, RuleRemoved(gone))
    (again,) = routing_actions(converged, after, RuleRemoved(gone), CONFIG)
    assert gone in again.rules
    # the address goes: its rules go from the plan
    event = AddressRemoved(addr("10.0.2.2", index=3))
    after = apply(converged, event)
    (fewer,) = routing_actions(converged, after, event, CONFIG)
    assert not any("10.0.2.2" in (r.src + r.dst) for r in fewer.rules)


def test_moved_tables_are_named():
    state = apply_all(
        State(), [LinkChanged(link(54, "eth1")), AddressAdded(addr("10.0.2.2", index=54))]
    )
    (assign, _) = routing_actions(State(), state, None, CONFIG)
    assert assign == AssignTables((("eth1", 256),), ("eth1",))


def test_relevance_filter():
    state = host()
    assert relevant(state, state, AddressAdded(addr("10.0.1.5", index=2)), CONFIG) is False
    assert relevant(state, state, AddressAdded(addr("10.0.2.5", index=3)), CONFIG) is True
    assert relevant(state, state, RouteAdded(route("10.9.0.0/16", oif=3)), CONFIG) is False
    assert relevant(state, state, RouteAdded(route("0.0.0.0/0", oif=3, gateway="1.1.1.1")), CONFIG)
    assert relevant(
        state, state, RouteAdded(route("0.0.0.0/0", oif=9, table=203, protocol=P)), CONFIG
    )
    assert relevant(state, state, RuleAdded(Rule(AF_INET, 1, 5, protocol=4)), CONFIG) is False
    assert relevant(state, state, RuleRemoved(Rule(AF_INET, 1, 5, protocol=P)), CONFIG) is True
    assert relevant(state, state, LinkChanged(link(7, "eth1")), CONFIG) is True
    assert relevant(state, state, LinkRemoved(3), CONFIG) is True
    assert relevant(state, state, LinkRemoved(2), CONFIG) is False
    assert relevant(state, state, TablesAssigned(()), CONFIG) is True
    assert routing_actions(state, state, None, Config()) == []


def test_scripts_get_the_table():
    state = apply(host(), TablesAssigned((("eth1", 203),)))
    event = LinkChanged(replace(link(3, "eth1"), flags=1))
    actions = react(state, apply(state, event), event, ctx(), CONFIG)
    assert actions[0].env_dict()["TABLE"] == "203"
    event = LinkChanged(replace(link(2, "eth0"), flags=1))
    actions = react(state, apply(state, event), event, ctx(), CONFIG)
    assert "TABLE" not in actions[0].env_dict()


def test_owned_routes_follow_the_kernel():
    mine = Route(AF_INET, 203, "0.0.0.0/0", gateway="10.0.2.1", oif=3, protocol=P)
    state = apply_all(host(), [RouteAdded(mine)])
    assert state.owned_routes == {mine}
    replaced = replace(mine, protocol=4)
    assert apply(state, RouteAdded(replaced)).owned_routes == frozenset()
    assert apply(state, RouteRemoved(mine)).owned_routes == frozenset()
    assert apply(state, LinkRemoved(3)).owned_routes == frozenset()
    assert AF_INET6


def test_a_remembered_table_holding_foreign_routes_is_given_up():
    """Issue 10, attack 4: tables.json said 300, and 300 now holds someone else's default."""
    state = host(
        TablesAssigned((("eth1", 300),)),
        RouteAdded(route("0.0.0.0/0", oif=2, gateway="10.0.1.1", table=300, protocol=4)),
    )
    assert allocate_tables(state, CONFIG) == {"eth1": 203}
    note, assign, _ = routing_actions(state, state, None, CONFIG)
    assert note == Note(
        "routing.table.given_up link=eth1 table=300 new_table=203 "
        "(it holds routes netevd does not own, or is reserved)",
        warning=True,
    )
    assert assign == AssignTables((("eth1", 203),), ())
    kept = host(TablesAssigned((("eth1", 300),)))
    assert allocate_tables(kept, CONFIG) == {"eth1": 300}, "a clean remembered table is kept"
