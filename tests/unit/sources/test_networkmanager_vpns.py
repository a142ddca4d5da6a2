"""The NetworkManager source's VPN connections and profiles: decoders on lies, the tracker on
a VPN's life as NetworkManager 1.42 tells it, and what the engine makes of the events.

A VPN connection is an active connection whose ``Vpn`` is true; its object also carries
``org.freedesktop.NetworkManager.VPN.Connection`` (``VpnState``, ``VpnStateChanged(uu)``). Its
own IP interface is the device whose IP configuration object it shares (NetworkManager keeps
one per interface). The real NetworkManager cannot run a VPN plugin here; the daemon against
the fake one is tests/integration/test_networkmanager_vpn.py.
"""

from __future__ import annotations

import pytest
from dbus_fast import Variant

from netevd.bus.values import Malformation, Malformed
from netevd.config import parse_config
from netevd.core.actions import RunScripts
from netevd.core.events import (
    KernelSnapshot,
    ManagerLinkChanged,
    ManagerSnapshot,
    SourceStatus,
    VpnChanged,
    VpnRemoved,
)
from netevd.core.model import IFF_LOWER_UP, IFF_UP, Link
from netevd.core.step import World, step, with_backend
from netevd.sources.networkmanager.decode import (
    ConnectionProps,
    DeviceProps,
    IpConfigProps,
    ManagerProps,
    SettingsConnectionProps,
    StateChange,
    decode_props,
)
from netevd.sources.networkmanager.signals import (
    ObjectAdded,
    SettingsConnectionChanged,
    VpnChange,
    VpnStateChanged,
    decode_signal,
)
from netevd.sources.networkmanager.tracker import Tracker

NM = "/org/freedesktop/NetworkManager"
VPN = NM + "/ActiveConnection/5"
WIRED = NM + "/ActiveConnection/1"
ETH0, TUN0 = NM + "/Devices/2", NM + "/Devices/3"
ACTIVE = "org.freedesktop.NetworkManager.Connection.Active"
VPN_IFACE = "org.freedesktop.NetworkManager.VPN.Connection"
PROFILE = "org.freedesktop.NetworkManager.Settings.Connection"
PROPS = "org.freedesktop.DBus.Properties"
UUID = "6a7e0c1d-2b3f-4a5b-8c6d-7e8f9a0b1c2d"
WORK = "/etc/NetworkManager/system-connections/work.nmconnection"


def s(value):
    return Variant("s", value)


def u(value):
    return Variant("u", value)


def o(value):
    return Variant("o", value)


def changed(path, interface, props):
    return decode_signal(path, PROPS, "PropertiesChanged", "sa{sv}as", [interface, props, []])


# -- the decoders ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "signature", "body", "reason"),
    [
        (VPN, "u", [5], Malformation.SIGNATURE),
        (VPN, "uuu", [5, 1, 0], Malformation.SIGNATURE),
        (VPN, "uu", ["5", 1], Malformation.TYPE),
        (VPN, "uu", [8, 1], Malformation.STATE),  # NMVpnConnectionState ends at 7
        (VPN, "uu", [5, 2**20], Malformation.VALUE),
        (NM + "/ActiveConnection/05", "uu", [5, 1], Malformation.PATH),
        (ETH0, "uu", [5, 1], Malformation.PATH),
    ],
)
def test_vpn_state_changed_lies(path, signature, body, reason):
    decoded = decode_signal(path, VPN_IFACE, "VpnStateChanged", signature, body)
    assert isinstance(decoded, Malformed)
    assert decoded.reason is reason


def test_vpn_state_changed_keeps_the_signals_values():
    assert decode_signal(VPN, VPN_IFACE, "VpnStateChanged", "uu", [5, 1]) == VpnStateChanged(
        VPN, VpnChange("activated", "none")
    )
    later = decode_signal(VPN, VPN_IFACE, "VpnStateChanged", "uu", [7, 20])
    assert later == VpnStateChanged(VPN, VpnChange("disconnected", "reason-20"))  # a newer one


@pytest.mark.parametrize(
    ("interface", "props", "reason"),
    [
        (ACTIVE, {"Vpn": s("yes")}, Malformation.TYPE),
        (ACTIVE, {"Vpn": Variant("u", 1)}, Malformation.TYPE),
        (ACTIVE, {"StateFlags": s("128")}, Malformation.TYPE),
        (ACTIVE, {"Devices": Variant("ao", [NM + "/ActiveConnection/1"])}, Malformation.PATH),
        (ACTIVE, {"Devices": Variant("ao", [ETH0, ETH0])}, Malformation.VALUE),
        (
            ACTIVE,
            {"Devices": Variant("ao", [f"{NM}/Devices/{n}" for n in range(1, 70)])},
            Malformation.VALUE,
        ),
        (ACTIVE, {"Devices": Variant("as", [ETH0])}, Malformation.TYPE),
        (ACTIVE, {"Connection": o(ETH0)}, Malformation.PATH),  # a profile is a Settings/N
        (ACTIVE, {"Connection": o(NM + "/Settings")}, Malformation.PATH),
        (ACTIVE, {"Connection": s(NM + "/Settings/1")}, Malformation.TYPE),
        (ACTIVE, {"Ip4Config": o(NM + "/IP6Config/2")}, Malformation.PATH),
        (VPN_IFACE, {"VpnState": u(9)}, Malformation.STATE),
        (VPN_IFACE, {"VpnState": s("activated")}, Malformation.TYPE),
    ],
)
def test_active_and_vpn_connection_lies(interface, props, reason):
    decoded = changed(VPN, interface, props)
    assert isinstance(decoded, Malformed)
    assert decoded.reason is reason


@pytest.mark.parametrize(
    "filename",
    [
        "work.nmconnection",  # not absolute
        "/etc/NetworkManager/../shadow",
        "/etc//x",
        "/etc/NetworkManager/./x",
        "/etc/x\nCONNECTION_ID=evil",
        "/" + "x" * 4096,
    ],
)
def test_a_profiles_filename_must_be_a_profiles_file(filename):
    decoded = changed(NM + "/Settings/4", PROFILE, {"Filename": s(filename)})
    assert isinstance(decoded, Malformed)
    assert decoded.reason is Malformation.VALUE


def test_profile_lies_of_type_and_path():
    assert changed(NM + "/Settings/4", PROFILE, {"Filename": o("/x")}).reason is (Malformation.TYPE)
    for path in (NM + "/Settings", NM + "/Settings/04", ETH0):
        assert changed(path, PROFILE, {"Filename": s(WORK)}).reason is Malformation.PATH


def test_profiles_and_active_connections_believed():
    assert changed(NM + "/Settings/4", PROFILE, {"Filename": s(WORK), "Flags": u(0)}) == (
        SettingsConnectionChanged(NM + "/Settings/4", SettingsConnectionProps(WORK))
    )
    assert decode_props(PROFILE, {"Filename": s("")}) == SettingsConnectionProps("")
    values = {
        "Vpn": Variant("b", True),
        "StateFlags": u(0x80 | 0x40),
        "Devices": Variant("ao", [ETH0]),
        "Connection": o("/"),
        "Ip4Config": o(NM + "/IP4Config/3"),
    }
    assert decode_props(ACTIVE, values) == ConnectionProps(
        connection="", external=True, vpn=True, devices=(ETH0,), ip4_config=NM + "/IP4Config/3"
    )
    manager = decode_props(
        "org.freedesktop.NetworkManager", {"ActiveConnections": Variant("ao", [ETH0])}
    )
    assert isinstance(manager, Malformed)
    assert manager.reason is Malformation.PATH


def test_an_announced_vpn_carries_both_interfaces_and_one_lie_drops_it():
    def added(vpn_state):
        interfaces = {
            ACTIVE: {"Vpn": Variant("b", True), "Id": s("work")},
            VPN_IFACE: {"VpnState": vpn_state, "Banner": s("hello")},
        }
        body = [VPN, interfaces]
        return decode_signal(
            "/org/freedesktop", "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
            "oa{sa{sv}}", body,
        )  # fmt: skip

    assert added(u(1)) == ObjectAdded(VPN, ConnectionProps("work", vpn=True, vpn_state="prepare"))
    assert added(u(99)).reason is Malformation.STATE


# -- the tracker ----------------------------------------------------------------------------------


def world_with_a_tunnel() -> Tracker:
    """eth0 (activated, wired) and tun0 (the plugin's tunnel, unmanaged), as NetworkManager
    announces them before the VPN comes."""
    tracker = Tracker({"eth0": 10, "tun0": 20}.get)
    tracker.learn(
        ETH0,
        DeviceProps("eth0", "eth0", "activated", "none", WIRED, NM + "/IP4Config/2", "", "", ""),
    )
    tracker.learn(
        TUN0, DeviceProps("tun0", "tun0", "unmanaged", "none", "", NM + "/IP4Config/3", "", "", "")
    )
    tracker.learn(WIRED, ConnectionProps("wired", connection=NM + "/Settings/1", external=False))
    tracker.learn(NM + "/Settings/1", SettingsConnectionProps("/etc/wired.nmconnection"))
    tracker.learn(NM + "/Settings/4", SettingsConnectionProps(WORK))
    tracker.learn(NM + "/IP4Config/2", IpConfigProps("192.0.2.1", ("192.0.2.10/24",)))
    tracker.learn(
        NM + "/IP4Config/3",
        IpConfigProps("", ("10.8.0.2/24",), ("10.8.0.53",), ("corp.example",), ()),
    )
    for device in (ETH0, TUN0):
        tracker.snapshot_entry(device)
    return tracker


def test_the_tracker_follows_a_vpns_life():
    tracker = world_with_a_tunnel()
    # InterfacesAdded of the VPN's active connection, then ActiveConnections lists it
    added = ConnectionProps(
        "work", UUID, NM + "/Settings/4", False, True, (ETH0,), "", "", vpn_state="prepare"
    )
    tracker.learn(VPN, added)
    assert tracker.missing(VPN) == []
    assert tracker.active_changed([WIRED, VPN]) == ([WIRED, VPN], [])
    assert tracker.announce(WIRED) == []  # not a VPN
    (first,) = tracker.announce(VPN)
    assert first == VpnChanged(
        "NetworkManager",
        5,
        (
            ("VpnState", "prepare"),
            ("ConnectionId", "work"),
            ("ConnectionUuid", UUID),
            ("ConnectionPath", NM + "/Settings/4"),
            ("ConnectionFilename", WORK),
            ("DeviceIndex", "10"),
            *((key, "") for key in ("Ip4Gateway", "Ip4Addresses", "Ip6Gateway", "Ip6Addresses")),
            *((key, "") for key in ("Ip4Nameservers", "Ip4Domains", "Ip4Routes")),
            *((key, "") for key in ("Ip6Nameservers", "Ip6Domains", "Ip6Routes")),
        ),
    )
    # ip-config-get: its IP configuration is tun0's
    tracker.learn(VPN, ConnectionProps(ip4_config=NM + "/IP4Config/3"))
    assert tracker.users(VPN) == [VPN]
    (config,) = tracker.refresh(VPN)
    assert dict(config.properties) == {
        "VpnIpInterface": "tun0",
        "VpnIpIndex": "20",
        "Ip4Addresses": "10.8.0.2/24",  # only what changed: the gateway and routes were ""
        "Ip4Nameservers": "10.8.0.53",
        "Ip4Domains": "corp.example",
    }
    (up,) = tracker.vpn_state_changed(VPN, VpnChange("activated", "none"))
    assert dict(up.properties)["VpnState"] == "activated"
    assert dict(up.properties)["Reason"] == "none"
    # nmcli connection down: NetworkManager clears Devices and the IP configuration
    tracker.learn(VPN, ConnectionProps(devices=(), ip4_config=""))
    (cleared,) = tracker.refresh(VPN)
    assert "DeviceIndex" not in dict(cleared.properties)  # the engine keeps the last one
    assert dict(cleared.properties)["Ip4Addresses"] == ""
    (down,) = tracker.vpn_state_changed(VPN, VpnChange("disconnected", "user-disconnected"))
    assert "VpnIpInterface" not in dict(down.properties)  # kept by the engine
    assert tracker.active_changed([WIRED]) == ([], [VPN])
    assert tracker.vpn_removed(VPN) == [VpnRemoved("NetworkManager", 5)]
    assert tracker.vpn_removed(VPN) == []


def test_a_vpn_without_a_tunnel_shares_its_devices_ip_configuration():
    tracker = world_with_a_tunnel()
    ipsec = ConnectionProps(
        "ipsec", UUID, "", None, True, (ETH0,), NM + "/IP4Config/2", "", "activated"
    )
    tracker.learn(VPN, ipsec)
    (event,) = tracker.announce(VPN)
    props = dict(event.properties)
    assert "VpnIpInterface" not in props
    assert (props["DeviceIndex"], props["ConnectionPath"], props["ConnectionFilename"]) == (
        "10",
        "",
        "",
    )


def test_the_profile_and_the_external_flag_of_a_device():
    tracker = world_with_a_tunnel()
    (event,) = tracker.state_changed(ETH0, StateChange("activated", "secondaries", "none"))
    assert isinstance(event, ManagerLinkChanged)
    props = dict(event.properties)
    assert (props["ConnectionPath"], props["ConnectionFilename"], props["ConnectionExternal"]) == (
        NM + "/Settings/1",
        "/etc/wired.nmconnection",
        "0",
    )
    # an external activation (StateFlags 0x80) and a profile whose file moves
    tracker.learn(WIRED, ConnectionProps(external=True))
    tracker.learn(NM + "/Settings/1", SettingsConnectionProps(""))
    assert tracker.users(NM + "/Settings/1") == [ETH0]
    (change,) = tracker.refresh(ETH0)
    assert dict(change.properties) == {"ConnectionFilename": "", "ConnectionExternal": "1"}


def test_a_device_asks_for_its_connections_profile():
    tracker = Tracker({"eth0": 10}.get)
    tracker.learn(ETH0, DeviceProps("eth0", "eth0", "activated", "none", WIRED, "", "", "", ""))
    assert tracker.missing(ETH0) == [(WIRED, ACTIVE)]
    tracker.learn(WIRED, ConnectionProps("wired", connection=NM + "/Settings/9"))
    assert tracker.missing(ETH0) == [(NM + "/Settings/9", PROFILE)]
    tracker.mark_absent(NM + "/Settings/9")  # gone before it was asked for: not asked again
    assert tracker.missing(ETH0) == []
    assert tracker.unknown(VPN)
    tracker.learn(VPN, ConnectionProps(vpn=True, devices=(NM + "/Devices/7",)))
    assert not tracker.unknown(VPN)
    assert tracker.missing(VPN) == [
        (VPN, VPN_IFACE),
        (NM + "/Devices/7", "org.freedesktop.NetworkManager.Device"),
    ]


# -- through the engine ---------------------------------------------------------------------------


def test_the_trackers_events_run_vpn_up_and_vpn_down_through_the_step():
    """The tracker's events, as the source emits them, through the engine's pure step with
    compat.nm_dispatcher: netevd's vpn-up.d and NetworkManager-dispatcher's vpn-up, then down."""
    tracker = world_with_a_tunnel()
    config = parse_config({"compat": {"nm_dispatcher": True}}, env={}).config
    world = with_backend(World(), "NetworkManager")
    links = (
        Link(10, "eth0", IFF_UP | IFF_LOWER_UP, 1500, "02:00:00:00:00:0a", "UP", "veth"),
        Link(20, "tun0", IFF_UP | IFF_LOWER_UP, 1500, "", "UNKNOWN", "tun"),
    )
    entries = tuple(e for e in (tracker.snapshot_entry(ETH0), tracker.snapshot_entry(TUN0)) if e)
    events = [
        KernelSnapshot(links, (), (), (), "startup"),
        SourceStatus("netlink", True, ""),
        ManagerSnapshot("NetworkManager", entries, tracker.manager_snapshot(ManagerProps())),
    ]
    tracker.learn(
        VPN,
        ConnectionProps(
            "work", UUID, NM + "/Settings/4", False, True, (ETH0,), NM + "/IP4Config/3", "",
            vpn_state="ip-config-get",
        ),
    )  # fmt: skip
    events += tracker.announce(VPN)
    events += tracker.vpn_state_changed(VPN, VpnChange("activated", "none"))
    tracker.learn(VPN, ConnectionProps(devices=(), ip4_config=""))
    events += tracker.refresh(VPN)
    events += tracker.vpn_state_changed(VPN, VpnChange("disconnected", "user-disconnected"))
    runs: list[RunScripts] = []
    for event in events:
        result = step(world, event, config, 1_700_000_000.0)
        world = result.world
        runs += [a for a in result.actions if isinstance(a, RunScripts) and "vpn" in a.directory]
    assert [(r.tree, r.directory, r.link_name, r.args) for r in runs] == [
        ("netevd", "vpn-up", "tun0", ()),
        ("nm-dispatcher", "vpn-up", "tun0", ("tun0", "vpn-up")),
        ("netevd", "vpn-down", "tun0", ()),
        ("nm-dispatcher", "vpn-down", "tun0", ("tun0", "vpn-down")),
    ]
    up = runs[1].env_dict()
    assert (up["VPN_IP_IFACE"], up["VPN_IP4_ADDRESS_0"], up["VPN_IP4_NAMESERVERS"]) == (
        "tun0",
        "10.8.0.2/24 0.0.0.0",
        "10.8.0.53",
    )
    assert (up["DEVICE_IFACE"], up["CONNECTION_FILENAME"], up["IP4_GATEWAY"]) == (
        "eth0",
        WORK,
        "192.0.2.1",
    )
    down = runs[3].env_dict()
    assert down["VPN_IP_IFACE"] == "tun0"
    assert not [k for k in down if k.startswith("VPN_IP4")]
