import json

from core_helpers import addr, ctx, link

from netevd.core.actions import RejectLink, RunScripts, SkipUnknownState
from netevd.core.config import BackendsConfig, Config, NetworkdConfig, ScriptsConfig
from netevd.core.environment import MAX_VALUE
from netevd.core.events import (
    AddressAdded,
    LinkChanged,
    ManagerChanged,
    ManagerLinkChanged,
    ManagerLinkRemoved,
    ManagerSnapshot,
)
from netevd.core.kinds import EventKind
from netevd.core.react.managers import react_manager, react_manager_links
from netevd.core.state import State, apply, apply_all, expand_manager_snapshot

ND = "systemd-networkd"
CONFIG = Config()


def base(backend=ND):
    return apply_all(State(backend=backend), [LinkChanged(link()), AddressAdded(addr("10.0.0.2"))])


def step(state, event, config=CONFIG, c=None):
    after = apply(state, event)
    return after, react_manager(state, after, event, c or ctx(), config)


def runs(actions):
    return [
        (a.directory, a.env_dict().get("BACKEND")) for a in actions if isinstance(a, RunScripts)
    ]


def test_operational_and_administrative_states_fire_their_directories():
    state = base()
    describe = json.dumps({"Index": 3, "Name": "eth0", "OperationalState": "routable"})
    event = ManagerLinkChanged(
        ND, 3, (("OperationalState", "routable"), ("AdministrativeState", "configured")), describe
    )
    state, actions = step(state, event)
    assert runs(actions) == [("routable", ND), ("configured", ND)]
    env = actions[1].env_dict()
    assert env["JSON"] == describe
    assert env["OperationalState"] == "routable"
    assert env["AdministrativeState"] == "configured"
    assert env["STATE"] == "configured"
    assert env["ADDRESSES"] == "10.0.0.2"
    # unchanged values fire nothing again
    state, actions = step(state, ManagerLinkChanged(ND, 3, (("OperationalState", "routable"),)))
    assert actions == []


def test_carrier_states_are_left_to_the_kernel_and_unknown_states_never_run():
    state = base()
    _, actions = step(state, ManagerLinkChanged(ND, 3, (("OperationalState", "no-carrier"),)))
    assert actions == []
    _, actions = step(state, ManagerLinkChanged(ND, 3, (("OperationalState", "../../tmp/x"),)))
    assert actions == [SkipUnknownState(ND, 3, "OperationalState=../../tmp/x")]
    _, actions = step(state, ManagerLinkChanged(ND, 3, (("AdministrativeState", "routable"),)))
    assert actions == [SkipUnknownState(ND, 3, "AdministrativeState=routable")]


def test_only_the_effective_backend_fires():
    _, actions = step(base("none"), ManagerLinkChanged(ND, 3, (("OperationalState", "degraded"),)))
    assert actions == []


def test_json_off_and_too_large_json_goes_by_file():
    no_json = Config(backends=BackendsConfig(systemd_networkd=NetworkdConfig(emit_json=False)))
    event = ManagerLinkChanged(ND, 3, (("AdministrativeState", "configured"),), '{"a":1}')
    _, actions = step(base(), event, no_json)
    assert "JSON" not in actions[0].env_dict()
    big = json.dumps({"Name": "eth0", "pad": "x" * MAX_VALUE})
    _, actions = step(
        base(), ManagerLinkChanged(ND, 3, (("AdministrativeState", "configured"),), big)
    )
    assert "JSON" not in actions[0].env_dict()
    assert actions[0].files == (("NETEVD_JSON_FILE", big),)


def test_links_unknown_to_the_kernel_use_the_managers_name_and_bad_names_are_rejected():
    state = State(backend=ND)
    _, actions = step(
        state, ManagerLinkChanged(ND, 7, (("Name", "wan0"), ("AdministrativeState", "configuring")))
    )
    assert [(a.directory, a.link_name) for a in actions] == [("configuring", "wan0")]
    _, actions = step(
        state, ManagerLinkChanged(ND, 8, (("Name", "x$(id)"), ("OperationalState", "off")))
    )
    assert [type(a) for a in actions] == [RejectLink]
    _, actions = step(state, ManagerLinkChanged(ND, 9, (("OperationalState", "off"),)))
    assert actions == []


def test_manager_level_changes_fire_manager_d():
    state = base()
    state, actions = step(
        state, ManagerChanged(ND, (("OperationalState", "degraded"), ("Bogus", "x")))
    )
    (run,) = actions
    env = run.env_dict()
    assert (run.directory, run.link_index, run.link_name) == ("manager", 0, "")
    assert env["OperationalState"] == "degraded"
    assert "Bogus" not in env
    assert json.loads(env["NETEVD_JSON"])["manager"] == {"OperationalState": "degraded"}
    _, actions = step(state, ManagerChanged(ND, (("Bogus", "y"),)))
    assert actions == []


def test_snapshot_replay_and_removal():
    state = base()
    snap = ManagerSnapshot(
        ND,
        ((3, (("OperationalState", "routable"), ("AdministrativeState", "configured")), "{}"),),
        (("OperationalState", "routable"),),
    )
    events = expand_manager_snapshot(state, snap)
    after = apply_all(state, events)
    actions = react_manager_links(state, after, ND, {3}, ctx(replay=True), CONFIG, EventKind.REPLAY)
    assert [(a.directory, a.env_dict()["NETEVD_REPLAY"]) for a in actions] == [
        ("routable", "1"),
        ("configured", "1"),
    ]
    assert expand_manager_snapshot(after, snap) == []
    quiet = Config(scripts=ScriptsConfig(run_startup_triggers=False))
    replay = ctx(replay=True)
    assert react_manager_links(state, after, ND, {3}, replay, quiet, EventKind.REPLAY) == []
    gone = expand_manager_snapshot(after, ManagerSnapshot(ND, ()))
    assert gone == [ManagerLinkRemoved(ND, 3)]
    removed, actions = step(after, ManagerLinkRemoved(ND, 3))
    assert actions == []
    assert removed.managed_props(ND, 3) == {}
