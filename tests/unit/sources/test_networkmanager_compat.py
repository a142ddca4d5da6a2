"""compat.nm_dispatcher against the real NetworkManager 1.42 and its real nm-dispatcher.

tests/unit/data/networkmanager/compat-recording.json holds what NetworkManager said on its bus
while eth0 got a DHCP lease (router, two DNS servers, a domain), renewed it and went down, and
what the real nm-dispatcher ran meanwhile (arguments and environment). Here the recorded
signals go through the source's decoders and tracker and the engine's pure step with
``compat.nm_dispatcher: true``; the NetworkManager-dispatcher runs that come out must be the
real dispatcher's, argument for argument and variable for variable (CONNECTION_DBUS_PATH and
CONNECTION_FILENAME too: the profile's path and its Filename, from InterfacesAdded), but for
PATH (netevd's fixed one), its own NETEVD_* and the renewal NetworkManager 1.42 does not
dispatch (NetworkManager commit cab80c5129, 1.44).
"""

from __future__ import annotations

import json

import pytest
from dbus_fast import Variant
from nm_recording import DATA, variants
from test_networkmanager_devices import replay

from lab.netevd import check_document
from netevd.bus.values import Malformation, Malformed
from netevd.config import parse_config
from netevd.core.actions import RunScripts
from netevd.core.events import KernelSnapshot, ManagerSnapshot, SourceStatus
from netevd.core.model import IFF_LOWER_UP, IFF_UP, Link
from netevd.core.step import World, step, with_backend
from netevd.core.trees import Tree
from netevd.sources.networkmanager.decode import (
    DeviceProps,
    DhcpConfigProps,
    IpConfigProps,
    ManagerProps,
    SettingsProps,
    decode_get_all,
    decode_props,
)
from netevd.sources.networkmanager.tracker import Tracker

NM = "/org/freedesktop/NetworkManager"
DEVICE = NM + "/Devices/2"
NOT_OURS = ("PATH",)
OURS = ("NETEVD_SEQ", "NETEVD_REPLAY", "NETEVD_JSON")


@pytest.fixture(scope="module")
def recording() -> dict:
    document = json.loads((DATA / "compat-recording.json").read_text())
    document["signals"] = [variants(line) for line in document["signals"] if "phase" not in line]
    document["replies"] = {k: variants(v) for k, v in document["replies"].items()}
    return document


def get_all(recording, name: str, interface: str):
    reply = recording["replies"][name]
    return decode_get_all(interface, reply["signature"], reply["body"])


def test_the_real_ip_and_dhcp_configurations_decode(recording):
    ip4 = get_all(recording, "GetAll.IP4Config", "org.freedesktop.NetworkManager.IP4Config")
    assert ip4.nameservers == ("10.231.80.53", "10.231.80.54")
    assert ip4.domains == ("lab.example",)
    assert ip4.routes == ("10.231.80.0/24 - 100", "0.0.0.0/0 10.231.80.1 100")
    dhcp = get_all(recording, "GetAll.DHCP4Config", "org.freedesktop.NetworkManager.DHCP4Config")
    options = dict(dhcp.options)
    assert options["domain_name_servers"] == "10.231.80.53 10.231.80.54"
    assert options["routers"] == "10.231.80.1"
    settings = get_all(recording, "GetAll.Settings", "org.freedesktop.NetworkManager.Settings")
    assert isinstance(settings, SettingsProps)
    device = get_all(recording, "GetAll.Device.eth0", "org.freedesktop.NetworkManager.Device")
    assert (device.dhcp4_config, device.dhcp6_config) == (NM + "/DHCP4Config/1", "")


def engine_runs(recording) -> list[RunScripts]:
    """The recorded signals through the tracker and the step; the compat runs, in order."""
    tracker = Tracker({"eth0": 10}.get)
    # eth0 as the source's snapshot found it before the profile was added: disconnected
    tracker.learn(
        DEVICE,
        DeviceProps("eth0", "", "disconnected", "none", "", NM + "/IP4Config/2", "", "", ""),
    )
    tracker.learn(NM + "/IP4Config/2", IpConfigProps("", (), (), (), ()))
    snapshot = ManagerSnapshot(
        "NetworkManager",
        (tracker.snapshot_entry(DEVICE),),
        tracker.manager_snapshot(ManagerProps("disconnected", "none")),
    )
    config = parse_config({"compat": {"nm_dispatcher": True}}, env={}).config
    world = with_backend(World(), "NetworkManager")
    eth0 = Link(10, "eth0", IFF_UP | IFF_LOWER_UP, 1500, "2a:d3:31:b3:09:1d", "UP", "veth")
    events = [KernelSnapshot((eth0,), (), (), (), "startup"), SourceStatus("netlink", True, "")]
    events += [snapshot, *replay(tracker, recording["signals"])]
    runs: list[RunScripts] = []
    for event in events:
        result = step(world, event, config, 1_700_000_000.0)
        world = result.world
        runs += [a for a in result.actions if isinstance(a, RunScripts)]
    return [r for r in runs if r.tree == Tree.NM_DISPATCHER]


def comparable(env: dict[str, str], leave_out: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in leave_out}


def test_the_runs_are_the_real_dispatchers_but_the_renewal(recording):
    ours = engine_runs(recording)
    theirs = recording["dispatched"]
    actions = [r.directory for r in ours]
    assert actions == [
        "dhcp4-change",  # the first lease, in ip-config: before up, as NetworkManager does
        "up",
        "connectivity-change",
        "dhcp4-change",  # the renewal: the man page's, and NetworkManager >= 1.44's
        "connectivity-change",
        "down",
    ]
    renewal = ours.pop(3)
    assert renewal.env_dict()["DHCP4_EXPIRY"] != ours[1].env_dict()["DHCP4_EXPIRY"]
    assert len(ours) == len(theirs)
    for run, real in zip(ours, theirs, strict=True):
        assert list(run.args) == real["args"]
        env = run.env_dict()
        check_document(env["NETEVD_JSON"])
        assert comparable(env, OURS) == comparable(real["env"], NOT_OURS), real["args"]


def test_a_renewal_changes_only_the_lease_options(recording):
    ours = engine_runs(recording)
    first, renewal = (r.env_dict() for r in ours if r.directory == "dhcp4-change")
    assert "DHCP4_EXPIRY" not in first  # in ip-config NetworkManager passes no lease
    assert renewal["DHCP4_IP_ADDRESS"].startswith("10.231.80.")
    assert renewal["IP4_ADDRESS_0"] == f"{renewal['DHCP4_IP_ADDRESS']}/24 10.231.80.1"


# -- the decoders, on values a lying peer (or a DHCP server through NetworkManager) sends ------


def test_dhcp_options_must_be_strings_with_plain_names():
    good = Variant("a{sv}", {"host_name": Variant("s", "box"), "routers": Variant("s", "10.0.0.1")})
    assert decode_props("org.freedesktop.NetworkManager.DHCP4Config", {"Options": good}) == (
        DhcpConfigProps((("host_name", "box"), ("routers", "10.0.0.1")))
    )
    number = Variant("a{sv}", {"expiry": Variant("u", 5)})
    found = decode_props("org.freedesktop.NetworkManager.DHCP4Config", {"Options": number})
    assert isinstance(found, Malformed)
    assert found.reason is Malformation.TYPE
    name = Variant("a{sv}", {"x$(id)": Variant("s", "1")})
    found = decode_props("org.freedesktop.NetworkManager.DHCP4Config", {"Options": name})
    assert isinstance(found, Malformed)
    assert found.reason is Malformation.VALUE


def test_a_domain_that_is_not_one_is_left_out_and_the_rest_holds():
    values = {
        "Domains": Variant("as", ["lab.example", "x;reboot", "~corp.example"]),
        "Gateway": Variant("s", "10.0.0.1"),
    }
    found = decode_props("org.freedesktop.NetworkManager.IP4Config", values)
    assert found == IpConfigProps(gateway="10.0.0.1", domains=("lab.example", "~corp.example"))


def test_ipv6_nameservers_are_16_bytes_each():
    six = bytes.fromhex("fd000000000000000000000000000053")
    values = {"Nameservers": Variant("aay", [six])}
    assert decode_props("org.freedesktop.NetworkManager.IP6Config", values) == IpConfigProps(
        nameservers=("fd00::53",)
    )
    short = {"Nameservers": Variant("aay", [b"\x01\x02"])}
    assert isinstance(decode_props("org.freedesktop.NetworkManager.IP6Config", short), Malformed)


@pytest.mark.parametrize(
    "route",
    [
        {"dest": Variant("s", "10.0.0.0"), "prefix": Variant("u", 33)},
        {"dest": Variant("s", "fd00::"), "prefix": Variant("u", 64)},  # IPv6 in IP4Config
        {"dest": Variant("s", "10.0.0.0"), "prefix": Variant("s", "24")},
        {"dest": Variant("s", "10.0.0.0"), "prefix": Variant("u", 8), "next-hop": Variant("u", 1)},
    ],
)
def test_a_route_that_is_not_one_drops_the_message(route):
    values = {"RouteData": Variant("aa{sv}", [route])}
    assert isinstance(decode_props("org.freedesktop.NetworkManager.IP4Config", values), Malformed)


def test_the_hostname_must_be_a_host_name():
    interface = "org.freedesktop.NetworkManager.Settings"
    assert decode_props(interface, {"Hostname": Variant("s", "box.lab")}) == SettingsProps(
        "box.lab"
    )
    assert decode_props(interface, {"Hostname": Variant("s", "")}) == SettingsProps("")
    assert isinstance(decode_props(interface, {"Hostname": Variant("s", "$(id)")}), Malformed)


def test_the_tracker_reports_a_new_hostname_once():
    tracker = Tracker({}.get)
    assert tracker.manager_snapshot(ManagerProps("connected-global"), SettingsProps("a")) == (
        ("State", "connected-global"),
        ("Hostname", "a"),
    )
    assert tracker.settings_changed(SettingsProps("a")) == []
    (event,) = tracker.settings_changed(SettingsProps("b"))
    assert event.properties == (("Hostname", "b"),)
