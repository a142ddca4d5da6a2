import json
from dataclasses import replace

from core_helpers import UP, addr, ctx, link, route

from netevd.core.actions import PendingRun, RejectLink, RunScripts
from netevd.core.config import CompatConfig, Config, Filter, MonitoringConfig, ScriptsConfig
from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    RouteRemoved,
    SourceStatus,
)
from netevd.core.model import IFF_UP, RTPROT_NETEVD
from netevd.core.react.kernel import react, react_links, react_resync_routes
from netevd.core.react.pending import resolve
from netevd.core.state import State, apply, apply_all

CONFIG = Config()


def step(state, event, config=CONFIG, c=None):
    after = apply(state, event)
    return after, react(state, after, event, c or ctx(), config)


def dirs(actions):
    return [(a.directory, a.link_name) for a in actions if isinstance(a, RunScripts | PendingRun)]


def routable_state(backend="none"):
    return apply_all(
        State(backend=backend),
        [
            LinkChanged(link()),
            AddressAdded(addr("10.0.0.2")),
            AddressAdded(addr("fd00::2")),
            RouteAdded(route("10.0.0.0/24")),
            RouteAdded(route("0.0.0.0/0", gateway="10.0.0.1")),
        ],
    )


def test_carrier_loss_and_gain_fire_with_the_exact_environment():
    state = routable_state()
    down = replace(link(), flags=IFF_UP, operstate="LOWERLAYERDOWN")
    state, actions = step(state, LinkChanged(down), c=ctx(seq=41))
    assert dirs(actions) == [("no-carrier", "eth0")]
    env = actions[0].env_dict()
    doc = json.loads(env.pop("NETEVD_JSON"))
    assert env == {
        "LINK": "eth0",
        "LINKINDEX": "3",
        "STATE": "no-carrier",
        "BACKEND": "kernel",
        "GENERATOR": "kernel",
        "ADDRESSES": "10.0.0.2 fd00::2",
        "GATEWAY": "10.0.0.1",
        "EVENT": "link",
        "NETEVD_SEQ": "41",
        "NETEVD_REPLAY": "0",
    }
    assert doc["schema"] == "netevd.event.v1"
    assert doc["link"]["carrier"] is False
    assert doc["addresses"] == ["10.0.0.2/24", "fd00::2/64"]
    assert doc["gateway"] == "10.0.0.1"
    assert doc["gateway6"] is None
    assert actions[0].seq == 41
    assert isinstance(actions[0], RunScripts)  # complete, not a pending run
    state, actions = step(state, LinkChanged(link()))
    assert dirs(actions) == [("carrier", "eth0"), ("routable", "eth0")]


def test_kernel_states_only_in_none_mode():
    state = apply(State(backend="none"), LinkChanged(link()))
    state, actions = step(state, AddressAdded(addr("fe80::1")))
    assert dirs(actions) == [("degraded", "eth0")]
    state, actions = step(state, AddressAdded(addr("10.0.0.2")))
    assert dirs(actions) == []  # no route out yet
    state, actions = step(state, RouteAdded(route("10.0.0.0/24")))
    assert dirs(actions) == [("routable", "eth0"), ("routes", "eth0")]
    assert actions[0].env_dict()["EVENT"] == "route-added"
    assert actions[1].event == "new"
    state, actions = step(state, AddressRemoved(addr("10.0.0.2")))
    assert dirs(actions) == [("degraded", "eth0")]
    assert actions[0].env_dict()["EVENT"] == "address-removed"
    networkd = apply(State(backend="systemd-networkd"), LinkChanged(link()))
    _, actions = step(networkd, AddressAdded(addr("fe80::1")))
    assert actions == []


def test_off_fires_when_the_link_goes_admin_down():
    state = routable_state()
    _, actions = step(state, LinkChanged(replace(link(), flags=0)))
    assert dirs(actions) == [("no-carrier", "eth0"), ("off", "eth0")]


def test_bad_names_are_rejected_once_and_never_run():
    evil = link(9, "x$(id)")
    state, actions = step(State(), LinkChanged(evil))
    assert actions == [RejectLink(9, "x$(id)", actions[0].reason)]
    state, actions = step(state, AddressAdded(addr("10.0.0.5", index=9)))
    assert actions == []
    state, actions = step(state, RouteAdded(route("10.5.0.0/16", oif=9)))
    assert actions == []
    state, actions = step(state, LinkChanged(link(9, "y;id")))
    assert [type(a) for a in actions] == [RejectLink]
    state, actions = step(state, LinkChanged(link(9, "clean0", flags=IFF_UP)))
    assert dirs(actions) == [("no-carrier", "clean0")]  # a real transition, under a clean name
    _, actions = step(state, LinkChanged(link(9, "clean0")))
    assert dirs(actions) == [("carrier", "clean0"), ("routable", "clean0")]


def test_monitoring_include_and_exclude():
    config = Config(monitoring=MonitoringConfig(interfaces=("eth*",), exclude=("eth9",)))
    _, actions = step(State(), LinkChanged(link(3, "eth0")), config)
    assert dirs(actions) == [("carrier", "eth0")]
    _, actions = step(State(), LinkChanged(link(4, "eth9")), config)
    assert actions == []
    _, actions = step(State(), LinkChanged(link(5, "wlan0")), config)
    assert actions == []
    _, actions = step(State(), LinkChanged(link(1, "lo")))
    assert actions == []


def test_routes_fire_only_for_real_route_changes():
    state = routable_state()
    for ignored in (
        route("10.0.0.2/32", table=255),
        route("10.8.0.0/16", protocol=RTPROT_NETEVD, table=203),
        route("10.8.0.0/16", oif=0),
    ):
        _, actions = step(state, RouteAdded(ignored))
        assert actions == []
    _, actions = step(state, RouteAdded(route("10.8.0.0/16")), c=ctx(replay=True))
    assert actions == []
    after, actions = step(state, RouteRemoved(route("10.9.0.0/16", table=300)))
    assert dirs(actions) == [("routes", "eth0")]
    assert isinstance(actions[0], PendingRun)
    assert (actions[0].event, actions[0].values) == ("del", ())  # completed when quiet
    (run,) = resolve(after, actions[0], CONFIG)
    assert isinstance(run, RunScripts)  # complete: the executor queues it as it is
    assert run.env_dict()["EVENT"] == "del"
    assert run.env_dict()["ADDRESSES"] == "10.0.0.2 fd00::2"
    doc = json.loads(run.env_dict()["NETEVD_JSON"])
    assert {r["dst"] for r in doc["routes"]} == {"10.0.0.0/24", "0.0.0.0/0"}
    excluded = Config(monitoring=MonitoringConfig(exclude=("eth0",)))
    _, actions = step(state, RouteAdded(route("10.8.0.0/16")), excluded)
    assert actions == []


def test_replay_runs_once_per_link_unless_disabled():
    after = routable_state()
    actions = react_links(State(), after, after.links, ctx(replay=True), CONFIG, "replay")
    assert dirs(actions) == [("carrier", "eth0"), ("routable", "eth0")]
    env = actions[1].env_dict()
    assert (env["NETEVD_REPLAY"], env["EVENT"]) == ("1", "replay")
    assert actions[1].replay is True
    quiet = Config(scripts=ScriptsConfig(run_startup_triggers=False))
    assert react_links(State(), after, after.links, ctx(replay=True), quiet, "replay") == []


def test_replay_builds_no_run_for_a_directory_that_held_nothing_at_start():
    after = routable_state()
    empty = frozenset({"carrier"})
    actions = react_links(State(), after, after.links, ctx(replay=True), CONFIG, "replay", empty)
    # Both still fire (the record and the metrics say so); only the empty one is not built.
    assert dirs(actions) == [("carrier", "eth0"), ("routable", "eth0")]
    assert [(a.built, a.env == ()) for a in actions] == [(False, True), (True, False)]
    assert (actions[0].seq, actions[0].replay) == (actions[1].seq, True)
    # Filters and compat read every run's environment: then every run is built, as is a
    # live event's (only the startup replay knows what the directories held).
    for config in (
        Config(filters=(Filter(action="log"),)),
        Config(compat=CompatConfig(networkd_dispatcher=True)),
    ):
        runs = react_links(State(), after, after.links, ctx(replay=True), config, "replay", empty)
        assert all(a.built for a in runs if isinstance(a, RunScripts))
    live = react_links(State(), after, after.links, ctx(), CONFIG, "link", empty)
    assert [a.built for a in live] == [True, True]


def test_resync_fires_routes_for_changed_links_only():
    before = routable_state()
    after = apply_all(
        before,
        [
            RouteAdded(route("10.7.0.0/16")),
            LinkChanged(link(4, "eth1")),
            RouteAdded(route("10.0.0.1/32", oif=4, table=255)),
        ],
    )
    actions = react_resync_routes(before, after, ctx(resync=True), CONFIG)
    assert dirs(actions) == [("routes", "eth0")]
    assert actions[0].event == "resync"
    gone = apply(after, LinkRemoved(3))
    assert react_resync_routes(after, gone, ctx(), CONFIG) == []
    # the link went before its quiet window ended: nothing to run
    assert resolve(gone, actions[0], CONFIG) == []


def test_removed_links_and_other_events_fire_nothing():
    state = routable_state()
    _, actions = step(state, LinkRemoved(3))
    assert actions == []
    _, actions = step(state, SourceStatus("netlink", True))
    assert actions == []
    assert UP
