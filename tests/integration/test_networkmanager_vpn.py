"""NetworkManager's VPN connections: the source against the fake NetworkManager, and the real
netevd running vpn-up.d / vpn-down.d and NetworkManager-dispatcher's vpn-up / vpn-down.

The real NetworkManager 1.42 runs in the lab (test_networkmanager_daemon.py), but no VPN plugin
can: the fake plays NetworkManager's part (its members checked against NetworkManager 1.42.4's
introspection, tests/unit/sources/test_fake_networkmanager_matches_nm.py), in
NetworkManager's order: the VPN's active connection appears in the Manager's
``ActiveConnections``, its VpnState goes prepare, connect, ip-config-get, activated
(``VpnStateChanged`` then ``PropertiesChanged``), and on the way down its ``Devices`` and IP
configuration are cleared before ``disconnected``. ``host`` has eth0 (ifindex 40, the VPN's
device) and tun0 (ifindex 50, a veth standing for the plugin's tunnel, 10.8.0.2/24), whose
NetworkManager device shares its IP configuration object with the VPN, as NetworkManager's does.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import pytest
from dbus_fast import Variant
from nm_support import Collected, has

from lab import Topology, wait_until
from lab.daemons.dispatcher import DispatcherDir
from lab.fakes import FakeNetworkManager
from lab.netevd import ScriptDirs, check_document
from netevd.core.events import VpnChanged, VpnRemoved

pytestmark = pytest.mark.dbus

NM = "/org/freedesktop/NetworkManager"
VPN_IFACE = "org.freedesktop.NetworkManager.VPN.Connection"
PROPS = "org.freedesktop.DBus.Properties"
WIRED_UUID = "0dd5c0de-1111-4222-8333-444455556666"
VPN_UUID = "6a7e0c1d-2b3f-4a5b-8c6d-7e8f9a0b1c2d"
WIRED_FILE = "/etc/NetworkManager/system-connections/wired.nmconnection"
WORK_FILE = "/etc/NetworkManager/system-connections/work.nmconnection"
ETH0, TUN0 = 40, 50
# NMVpnConnectionState: the way up
PREPARE, CONNECT, IP_CONFIG_GET, ACTIVATED = 1, 3, 4, 5


def vpn_lab() -> Topology:
    t = Topology().add_netns("host").add_netns("peer")
    t.add_veth("eth0", "host", "eth0", "peer", index=ETH0, peer_index=41)
    t.add_address("host", "eth0", "192.0.2.10/24")
    # the plugin's tunnel (a veth: the lab's kernels have no dummy or tun driver to rely on)
    t.add_veth("tun0", "host", "tun0", "peer", index=TUN0, peer_index=51)
    t.add_address("host", "tun0", "10.8.0.2/24")
    return t


def devices(fake: FakeNetworkManager) -> None:
    """eth0 activated (a wired profile), tun0 NetworkManager's device of the tunnel."""
    fake.add_device(3, "eth0", state=100)
    fake.activate(3, "wired", WIRED_UUID, gateway="192.0.2.1", filename=WIRED_FILE)
    tun0 = fake.add_device(4, "tun0", state=10)
    config = fake.ip_config(tun0.ip4_config)
    config.gateway, config.addresses = "10.8.0.1", [("10.8.0.2", 24)]


async def come_up(fake: FakeNetworkManager, seen: Callable[[], Awaitable[object]]) -> str:
    """``nmcli connection up work``: the VPN appears (prepare); once *seen* says netevd has
    heard of it (the fake, unlike NetworkManager, announces nothing, so netevd fetches it and
    signals sent meanwhile are in that reply), it goes through its states."""
    path = fake.add_vpn(3, "work", VPN_UUID, tunnel=4, filename=WORK_FILE)
    await seen()
    for state in (CONNECT, IP_CONFIG_GET, ACTIVATED):
        fake.set_vpn_state(path, state)
    return path


@pytest.fixture
async def world(lab, private_bus):
    built = await lab(vpn_lab())
    async with FakeNetworkManager(private_bus.address) as fake:
        devices(fake)
        yield built, fake, private_bus


async def vpn_events(daemon) -> list[dict]:
    events: list[dict] = await daemon.http.data("/api/v1/events?type=vpn")
    return events


def vpn_states(got: Collected, since: int = 0) -> list[tuple[str, str | None]]:
    return [
        (dict(e.properties)["VpnState"], dict(e.properties).get("Reason"))
        for e in got.events[since:]
        if isinstance(e, VpnChanged) and "VpnState" in dict(e.properties)
    ]


async def test_the_source_follows_a_vpn_up_and_down(world):
    built, fake, bus = world
    async with Collected(built.ns("host"), bus.env) as got:
        snapshot = await got.snapshot()
        assert snapshot.vpns == ()
        mark = got.mark()
        path = await come_up(fake, lambda: got.wait_for(has(VpnChanged, VpnState="prepare"), mark))
        number = int(path.rsplit("/", 1)[1])
        await got.wait_for(has(VpnChanged, VpnState="activated"), mark)
        first = next(e for e in got.events[mark:] if isinstance(e, VpnChanged))
        assert first.number == number
        assert {k: v for k, v in first.properties if not k.startswith("Ip6")} == {
            "VpnState": "prepare",  # from GetAll: the fake does not send InterfacesAdded
            "ConnectionId": "work",
            "ConnectionUuid": VPN_UUID,
            "ConnectionPath": fake.active(path).connection,
            "ConnectionFilename": WORK_FILE,
            "DeviceIndex": str(ETH0),
            "VpnIpInterface": "tun0",  # the device whose IP4Config the VPN's is
            "VpnIpIndex": str(TUN0),
            "Ip4Gateway": "10.8.0.1",
            "Ip4Addresses": "10.8.0.2/24",
        }
        assert vpn_states(got, mark) == [
            ("prepare", None),
            ("connect", "none"),
            ("ip-config-get", "none"),
            ("activated", "none"),
        ]
        mark = got.mark()
        fake.vpn_down(path)  # nmcli connection down work
        await got.wait_for(has(VpnRemoved, number=number), mark)
        assert vpn_states(got, mark) == [("disconnected", "user-disconnected")]
        cleared = next(e for e in got.events[mark:] if isinstance(e, VpnChanged))
        assert dict(cleared.properties)["Ip4Addresses"] == ""  # before the state, as NM does
        assert "DeviceIndex" not in dict(cleared.properties)


async def test_a_vpn_that_is_up_is_in_the_snapshot(world):
    built, fake, bus = world
    path = fake.add_vpn(3, "work", VPN_UUID, tunnel=4, filename=WORK_FILE)
    for state in (CONNECT, IP_CONFIG_GET, ACTIVATED):
        fake.set_vpn_state(path, state)
    async with Collected(built.ns("host"), bus.env) as got:
        snapshot = await got.snapshot()
    ((number, properties),) = snapshot.vpns
    assert number == int(path.rsplit("/", 1)[1])
    props = dict(properties)
    assert (props["VpnState"], props["VpnIpInterface"], props["DeviceIndex"]) == (
        "activated",
        "tun0",
        str(ETH0),
    )


async def test_each_vpn_lie_is_dropped_and_counted(world):
    built, fake, bus = world
    path = fake.add_vpn(3, "work", VPN_UUID, tunnel=4, filename=WORK_FILE)
    profile = fake.active(path).connection
    async with Collected(built.ns("host"), bus.env) as got:
        await got.status(up=True)
        mark = got.mark()
        lies = [
            (path, VPN_IFACE, "VpnStateChanged", "u", [5]),  # signature
            (path, VPN_IFACE, "VpnStateChanged", "uu", [9, 1]),  # no such state
            (NM + "/ActiveConnection/07", VPN_IFACE, "VpnStateChanged", "uu", [5, 1]),  # path
            (path, PROPS, "PropertiesChanged", "sa{sv}as",
             [VPN_IFACE, {"VpnState": Variant("s", "activated")}, []]),  # type
            (profile, PROPS, "PropertiesChanged", "sa{sv}as",
             ["org.freedesktop.NetworkManager.Settings.Connection",
              {"Filename": Variant("s", "../../etc/shadow")}, []]),  # value
        ]  # fmt: skip
        for lie in lies:
            await fake.send_raw(*lie)
        fake.set_vpn_state(path, ACTIVATED)  # then the truth
        await got.wait_for(has(VpnChanged, VpnState="activated"), mark)
        assert vpn_states(got, mark) == [("activated", "none")]
    counts = {k: v for k, v in got.source.counts.items() if k.startswith("rejected.")}
    assert counts == {
        "rejected.signature": 1,
        "rejected.state": 1,
        "rejected.path": 1,
        "rejected.type": 1,
        "rejected.value": 1,
    }


async def test_the_daemon_runs_vpn_up_and_vpn_down_in_both_trees(
    lab, netevd, tmp_path, private_bus
):
    built = await lab(vpn_lab())
    scripts = ScriptDirs(tmp_path / "scripts")
    for state in ("vpn-up", "vpn-down"):
        scripts.add(state)
    theirs = DispatcherDir(tmp_path / "etc" / "dispatcher.d")
    theirs.add("50-record")
    async with FakeNetworkManager(private_bus.address) as fake:
        devices(fake)
        daemon = await netevd(
            built, scripts, env=private_bus.env, api=True,
            system={"backend": "NetworkManager"},
            compat={"nm_dispatcher": True, "nm_dispatcher_dirs": [str(theirs.root)]},
        )  # fmt: skip

        async def heard() -> object:
            found = await wait_until(lambda: vpn_events(daemon), 10, message="the VPN heard of")
            return found

        path = await come_up(fake, heard)
        (up,) = await scripts.wait_for(STATE="vpn-up")
        (their_up,) = await theirs.wait_for("vpn-up")
        assert {k: up.env.get(k) for k in (
            "LINK", "LINKINDEX", "BACKEND", "EVENT", "ADDRESSES", "DEVICE_IFACE",
            "CONNECTION_ID", "CONNECTION_UUID", "CONNECTION_FILENAME", "VPN_IP_IFACE",
            "VPN_IP4_ADDRESS_0", "VPN_IP4_GATEWAY", "REASON",
        )} == {
            "LINK": "tun0", "LINKINDEX": str(TUN0), "BACKEND": "NetworkManager", "EVENT": "vpn",
            "ADDRESSES": "10.8.0.2", "DEVICE_IFACE": "eth0", "CONNECTION_ID": "work",
            "CONNECTION_UUID": VPN_UUID, "CONNECTION_FILENAME": WORK_FILE,
            "VPN_IP_IFACE": "tun0", "VPN_IP4_ADDRESS_0": "10.8.0.2/24 10.8.0.1",
            "VPN_IP4_GATEWAY": "10.8.0.1", "REASON": "none",
        }  # fmt: skip
        assert up.env["CONNECTION_DBUS_PATH"] == fake.active(path).connection
        doc = check_document(up.env["NETEVD_JSON"])
        assert (doc["vpn"]["VpnState"], doc["networkmanager"]["Interface"]) == ("activated", "eth0")
        assert their_up.args == ["tun0", "vpn-up"]
        assert {k: their_up.env.get(k) for k in (
            "NM_DISPATCHER_ACTION", "VPN_IP_IFACE", "DEVICE_IFACE", "DEVICE_IP_IFACE",
            "CONNECTION_ID", "CONNECTION_FILENAME", "IP4_GATEWAY", "VPN_IP4_NUM_ADDRESSES",
            "VPN_IP4_ADDRESS_0", "VPN_IP6_GATEWAY",
        )} == {
            "NM_DISPATCHER_ACTION": "vpn-up", "VPN_IP_IFACE": "tun0", "DEVICE_IFACE": "eth0",
            "DEVICE_IP_IFACE": "eth0", "CONNECTION_ID": "work", "CONNECTION_FILENAME": WORK_FILE,
            "IP4_GATEWAY": "192.0.2.1", "VPN_IP4_NUM_ADDRESSES": "1",
            "VPN_IP4_ADDRESS_0": "10.8.0.2/24 10.8.0.1", "VPN_IP6_GATEWAY": "0.0.0.0",
        }  # fmt: skip
        assert "CONNECTION_EXTERNAL" not in their_up.env
        await tried_as_the_daemon_ran_them(built, tmp_path, up, their_up)
        fake.vpn_down(path, reason=4)  # service-stopped
        (down,) = await scripts.wait_for(STATE="vpn-down")
        (their_down,) = await theirs.wait_for("vpn-down")
        assert (down.link, down.env["REASON"], down.env["VPN_IP_IFACE"]) == (
            "tun0",
            "service-stopped",
            "tun0",
        )
        assert their_down.args == ["tun0", "vpn-down"]
        assert not [k for k in their_down.env if k.startswith("VPN_IP4")]
        assert their_down.env["CONNECTION_ID"] == "work"

        async def recorded():
            events = await vpn_events(daemon)
            return events if len(events) >= 5 else None

        events = await wait_until(recorded, 10, message="the VPN's events in the event log")
        fired = [d for e in events for d in e.get("directories", ())]
        assert (fired.count("vpn-up"), fired.count("vpn-down")) == (2, 2)  # both trees
        assert "script.env.dropped" not in daemon.proc.output()


# the shells' own variables and netevd's per-run ones: not the same between two runs
PER_RUN = ("PWD", "SHLVL", "_", "NETEVD_SEQ", "NETEVD_REPLAY", "NETEVD_JSON", "NETEVD_SCRIPT")
PER_RUN += ("SELF", "RECORDED_BY")


async def tried_as_the_daemon_ran_them(built, tmp_path, up, their_up) -> None:
    """``netevd test --state vpn-up``, in netevd's tree and NetworkManager-dispatcher's: the
    environment and arguments the daemon gave its own runs a moment before."""
    trying = DispatcherDir(tmp_path / "try" / "dispatcher.d")
    script = trying.add("50-record")
    mine = ScriptDirs(tmp_path / "try-own")
    own = mine.add("vpn-up")
    for tree, path in (("nm-dispatcher", script), ("netevd", own)):
        done = await built.run(
            "host", sys.executable, "-m", "netevd", "test", str(path), "-i", "tun0", "-s",
            "vpn-up", "--tree", tree, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    (tried,) = trying.runs()
    assert tried.args == their_up.args == ["tun0", "vpn-up"]
    same = {k: v for k, v in tried.env.items() if k not in PER_RUN}
    assert same == {k: v for k, v in their_up.env.items() if k not in PER_RUN}
    (tried_own,) = mine.runs()
    assert {k: v for k, v in tried_own.env.items() if k not in PER_RUN} == {
        k: v for k, v in up.env.items() if k not in PER_RUN
    }
