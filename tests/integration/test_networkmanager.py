"""NetworkManagerSource against the real NetworkManager 1.42 in a lab namespace.

``client`` runs NetworkManager on its own bus with eth0 (ifindex 10) managed; ``server`` runs
dnsmasq (``--no-ping``) handing out 10.231.80.100-150 with router 10.231.80.1. The source runs
in-process on a thread inside ``client`` and its events are collected; no engine.
"""

import json
import re

import pytest
from nm_support import Collected, has, snapshot_links

from lab import DnsmasqServer
from lab.daemons.networkmanager import NetworkManagerNode, networkmanager_dhcp
from netevd.core.events import ManagerChanged, ManagerLinkChanged, ManagerLinkRemoved, SourceStatus

pytestmark = pytest.mark.dbus  # each test starts its own dbus-daemon

ETH0 = 10
ROUTER = "10.231.80.1"
UUID = "0dd5c0de-1111-4222-8333-444455556666"
ACTIVATION = [
    ("prepare", "disconnected", "none"),
    ("config", "prepare", "none"),
    ("ip-config", "config", "none"),
    ("ip-check", "ip-config", "none"),
    ("secondaries", "ip-check", "none"),
    ("activated", "secondaries", "none"),
]


@pytest.fixture
async def world(lab, tmp_path):
    built = await lab(networkmanager_dhcp())
    server = DnsmasqServer(
        built.ns("server"),
        "eth0",
        tmp_path / "dnsmasq",
        pool=("10.231.80.100", "10.231.80.150"),
        router=ROUTER,
    )
    await built.start_process(server)
    await server.wait_ready()
    nm = NetworkManagerNode(built.ns("client"))
    try:
        await nm.start()
        yield built, nm
    finally:
        await nm.stop()


async def activated(nm: NetworkManagerNode) -> None:
    await nm.add_connection("wired", "eth0", uuid=UUID)
    await nm.wait_for_device_state("eth0", "activated")


async def test_snapshot_of_an_activated_device(world):
    built, nm = world
    await activated(nm)
    async with Collected(built.ns("client"), nm.env) as got:
        snapshot = await got.snapshot()
        status = await got.status(up=True)
    links = snapshot_links(snapshot)
    ip4_addresses = links[ETH0].pop("Ip4Addresses")  # the lease's address, from the pool
    lease = json.loads(links[ETH0].pop("Dhcp4Options"))  # DHCP4Config's Options
    assert (lease["ip_address"], lease["routers"]) == (ip4_addresses.split("/")[0], ROUTER)
    assert links[ETH0] == {
        "DeviceState": "activated",
        "Reason": "none",
        "Interface": "eth0",
        "IpInterface": "eth0",
        "Name": "eth0",
        "ConnectionId": "wired",
        "ConnectionUuid": UUID,
        "ConnectionPath": "/org/freedesktop/NetworkManager/Settings/1",  # the profile
        "ConnectionFilename": str(nm.conns / "wired.nmconnection"),  # its Filename
        "ConnectionExternal": "0",  # its StateFlags: not an external activation
        "Ip4Gateway": ROUTER,
        "Ip6Gateway": "",
        "Ip6Addresses": "",
        "Ip4Nameservers": "",  # dnsmasq offers none here
        "Ip6Nameservers": "",
        "Ip4Domains": "",
        "Ip6Domains": "",
        "Ip4Routes": f"10.231.80.0/24 - 100;0.0.0.0/0 {ROUTER} 100",
        "Ip6Routes": "",
        "Dhcp6Options": "",
    }
    assert re.fullmatch(r"10\.231\.80\.1[0-5][0-9]/24", ip4_addresses)
    assert links[1]["DeviceState"] == "unmanaged"  # lo, by the kernel's ifindex
    manager = dict(snapshot.manager)
    assert manager.pop("Hostname")  # Settings.Hostname: the host's static name here
    assert manager == {"State": "connected-global", "Connectivity": "full"}
    assert status.detail == f"owner {nm.owner}, 2 devices"


async def test_dhcp_activation_as_it_happens(world):
    built, nm = world
    await nm.wait_for_device_state("eth0", "disconnected")  # NM has set eth0 up, no profile
    async with Collected(built.ns("client"), nm.env) as got:
        before = snapshot_links(await got.snapshot())[ETH0]
        assert before["DeviceState"] == "disconnected"  # managed, but no profile yet
        mark = got.mark()
        await nm.add_connection("wired", "eth0", uuid=UUID)  # autoconnect
        done = await got.device_state(ETH0, "activated", since=mark)
        assert got.states(ETH0, mark) == ACTIVATION
        assert done["ConnectionId"] == "wired"
        assert done["ConnectionUuid"] == UUID
        assert done["Ip4Gateway"] == ROUTER  # the lease's router, through IP4Config
        assert done["IpInterface"] == "eth0"
        await got.wait_for(has(ManagerChanged, State="connected-global"), mark)
        # the device's activated comes before the manager's connected-global, as NM sent them
        assert got.index(has(ManagerChanged, State="connected-global"), mark) > got.index(
            has(ManagerLinkChanged, DeviceState="activated"), mark
        )
    routes = await built.ip_json("client", "route", "show", "default")
    assert [r["gateway"] for r in routes] == [ROUTER]


async def test_connection_down_and_up(world):
    built, nm = world
    await activated(nm)
    async with Collected(built.ns("client"), nm.env) as got:
        await got.status(up=True)
        mark = got.mark()
        await nm.nmcli("connection", "down", "wired")
        disconnected = await got.device_state(ETH0, "disconnected", since=mark)
        deactivating = await got.device_state(ETH0, "deactivating", since=mark)
        assert (deactivating["DeviceStateOld"], deactivating["Reason"]) == (
            "activated",
            "user-requested",
        )
        assert deactivating["ConnectionId"] == "wired"
        assert (disconnected["DeviceStateOld"], disconnected["Reason"]) == (
            "deactivating",
            "user-requested",
        )
        # gone before NM signals 30: absent, so the engine keeps the id from deactivating
        assert "ConnectionId" not in disconnected
        assert "ConnectionUuid" not in disconnected
        await got.wait_for(has(ManagerLinkChanged, Ip4Gateway=""), mark)
        # IP4Config is cleared after the signal: disconnected.d still sees the old gateway
        assert got.index(has(ManagerLinkChanged, Ip4Gateway=""), mark) > got.index(
            has(ManagerLinkChanged, DeviceState="disconnected"), mark
        )
        assert got.states(ETH0, mark) == [
            ("deactivating", "activated", "user-requested"),
            ("disconnected", "deactivating", "user-requested"),
        ]
        mark = got.mark()
        await nm.nmcli("connection", "up", "wired")
        back = await got.device_state(ETH0, "activated", since=mark)
        assert got.states(ETH0, mark) == ACTIVATION
        assert (back["ConnectionId"], back["Ip4Gateway"]) == ("wired", ROUTER)


async def test_networkmanager_killed_and_started_again(world):
    built, nm = world
    await activated(nm)
    async with Collected(built.ns("client"), nm.env) as got:
        await got.status(up=True)
        mark = got.mark()
        await nm.kill_nm()
        down = await got.status(up=False, since=mark)
        assert "not on the bus" in down.detail
        await nm.start_nm()
        snapshot = await got.snapshot(since=mark)
        up = await got.status(up=True, since=mark)
        after = got.index(lambda e: e is up, mark) + 1
        if snapshot_links(snapshot).get(ETH0, {}).get("DeviceState") != "activated":
            await got.device_state(ETH0, "activated", since=after)
        # NM takes the device back by itself and says so, state by state
        seen = [
            (p, None, None)
            for p in (snapshot_links(snapshot).get(ETH0, {}).get("DeviceState"),)
            if p
        ]
        states = got.states(ETH0, after)
        full = [
            ("unmanaged", None, "none"),
            ("unavailable", "unmanaged", "connection-assumed"),
            ("disconnected", "unavailable", "connection-assumed"),
            *ACTIVATION,
        ]
        # NM usually owns its name before it has devices, and the stream shows every state;
        # on a loaded machine the snapshot may already hold eth0, and the stream the rest.
        start = [name for name, _, _ in full].index(seen[0][0]) + 1 if seen else 0
        assert states == full[start:]
        assert got.source.counts["reconnects"] == 0  # no reconnect: the bus stayed
    assert not [e for e in got.events if isinstance(e, ManagerLinkRemoved)]


async def test_bus_restarted(world):
    built, nm = world
    await activated(nm)
    async with Collected(built.ns("client"), nm.env) as got:
        await got.status(up=True)
        mark = got.mark()
        await nm.stop_nm()  # SIGTERM: NM takes its objects off the bus, devices stay configured
        removed = await got.wait_for(
            lambda e: isinstance(e, ManagerLinkRemoved) and e.index == ETH0, mark
        )
        assert removed.source == "NetworkManager"
        await nm.stop_bus()
        await nm.start_bus()
        await nm.start_nm()
        up = await got.status(up=True, since=mark)
        snapshot = await got.snapshot(since=mark)
        assert got.index(has(SourceStatus, up=False), mark) < got.index(
            lambda e: e is snapshot, mark
        )
        assert got.source.counts["reconnects"] >= 1
        assert up.detail.startswith(f"owner {nm.owner},")
        # NM, back before the source's backoff ended, had taken eth0 back already
        again = snapshot_links(snapshot)[ETH0]
        assert (again["DeviceState"], again["ConnectionId"], again["Ip4Gateway"]) == (
            "activated",
            "wired",
            ROUTER,
        )
