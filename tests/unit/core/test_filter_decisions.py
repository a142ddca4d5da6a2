from core_helpers import addr, ctx, link, route

from netevd.core.actions import Note, RunScripts
from netevd.core.config import Config, Filter, FilterMatch
from netevd.core.events import AddressAdded, LinkChanged, RouteAdded
from netevd.core.filters import Subject, decide, matches
from netevd.core.react.kernel import react
from netevd.core.react.pending import resolve
from netevd.core.state import State, apply, apply_all

SUBJECT = Subject(
    interface="eth1",
    event_type="routable",
    backend="kernel",
    addresses=("10.0.0.2", "fd00::2"),
    has_gateway=True,
    dns_count=2,
)


def test_every_given_field_must_match():
    assert matches(FilterMatch(), SUBJECT)
    assert matches(FilterMatch(interface="eth1", event_type="routable", backend="kernel"), SUBJECT)
    assert not matches(FilterMatch(interface="eth0"), SUBJECT)
    assert matches(FilterMatch(interface_pattern="eth*"), SUBJECT)
    assert not matches(FilterMatch(interface_pattern="wl*"), SUBJECT)
    assert not matches(FilterMatch(event_type="carrier"), SUBJECT)
    assert not matches(FilterMatch(backend="dhclient"), SUBJECT)
    assert matches(FilterMatch(ip_family="ipv6"), SUBJECT)
    assert matches(FilterMatch(ip_family="any"), SUBJECT)
    v4_only = Subject("eth1", "routable", "kernel", ("10.0.0.2",), False)
    assert not matches(FilterMatch(ip_family="ipv6"), v4_only)
    assert matches(FilterMatch(ip_family="ipv4"), v4_only)
    assert matches(FilterMatch(condition="has_gateway && dns_count >= 2"), SUBJECT)
    assert not matches(FilterMatch(condition="has_gateway"), v4_only)
    assert matches(FilterMatch(condition='dns_count > 5 || interface == "eth1"'), SUBJECT)


def test_first_decision_wins_logs_continue_default_runs():
    log = Filter(FilterMatch(interface="eth1"), "log")
    ignore = Filter(FilterMatch(event_type="routable"), "ignore")
    execute = Filter(FilterMatch(), "execute")
    assert decide((), SUBJECT) == (True, [])
    assert decide((log, ignore, execute), SUBJECT) == (False, [0])
    assert decide((execute, ignore), SUBJECT) == (True, [])
    assert decide((Filter(FilterMatch(interface="x"), "ignore"),), SUBJECT) == (True, [])


def test_reactions_apply_filters():
    config = Config(
        filters=(
            Filter(FilterMatch(event_type="carrier"), "log"),
            Filter(FilterMatch(interface_pattern="veth*"), "ignore"),
            Filter(FilterMatch(event_type="routes", condition="has_gateway"), "ignore"),
        )
    )
    state = State()
    after = apply(state, LinkChanged(link(3, "eth0")))
    actions = react(state, after, LinkChanged(link(3, "eth0")), ctx(), config)
    assert [type(a) for a in actions] == [Note, RunScripts]
    assert actions[0].message.startswith("filter.matched index=0 link=eth0 dir=carrier")
    after2 = apply(state, LinkChanged(link(4, "veth9")))
    actions = react(state, after2, LinkChanged(link(4, "veth9")), ctx(), config)
    assert [type(a) for a in actions] == [Note, Note]
    assert actions[1].message.startswith("filter.ignored link=veth9 dir=carrier")
    routed = apply_all(
        after, [AddressAdded(addr("10.0.0.2")), RouteAdded(route("0.0.0.0/0", gateway="10.0.0.1"))]
    )
    event = RouteAdded(route("10.5.0.0/16"))
    final = apply(routed, event)
    (pending,) = react(routed, final, event, ctx(), config)
    # routes.d is filtered when its quiet window ends, with the final picture
    actions = resolve(final, pending, config)
    assert [a.message.split()[0] for a in actions if isinstance(a, Note)] == ["filter.ignored"]
    assert not any(isinstance(a, RunScripts) for a in actions)
