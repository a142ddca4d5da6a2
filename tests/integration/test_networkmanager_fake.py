"""NetworkManagerSource against a fake org.freedesktop.NetworkManager that lies.

The fake owns the name on a private bus; the source runs in-process on a thread inside a
namespace whose eth0 (ifindex 40) and eth1 (ifindex 42) are the links the fake's devices name.
What the real NetworkManager cannot be made to do on demand is done here: wrong signatures,
state numbers NetworkManager does not have, absurd values, non-canonical paths, a peer that is
not the name's owner. The fake announces no object through ObjectManager.InterfacesAdded, so
the source must fetch what it is told about, and keep each device's events in order meanwhile.
"""

import pytest
from dbus_fast import Variant
from nm_support import Collected, has, snapshot_links

from lab import Topology, wait_until
from lab.fakes import FakeNetworkManager
from netevd.core.events import ManagerLinkChanged, ManagerLinkRemoved

pytestmark = pytest.mark.dbus  # each test starts its own dbus-daemon

NM = "/org/freedesktop/NetworkManager"
DEV3 = NM + "/Devices/3"
DEVICE = "org.freedesktop.NetworkManager.Device"
PROPS = "org.freedesktop.DBus.Properties"
UUID = "0ff1ce00-0000-4000-8000-000000000001"
ETH0, ETH1 = 40, 42
OFFICE = "/etc/NetworkManager/system-connections/office.nmconnection"


def two_links() -> Topology:
    t = Topology().add_netns("host").add_netns("peer")
    t.add_veth("eth0", "host", "eth0", "peer", index=ETH0, peer_index=41)
    t.add_veth("eth1", "host", "eth1", "peer", index=ETH1, peer_index=43)
    return t


@pytest.fixture
async def world(lab, private_bus):
    built = await lab(two_links())
    async with FakeNetworkManager(private_bus.address) as fake:
        fake.add_device(3, "eth0", state=100)
        fake.activate(3, "office", UUID, gateway="192.0.2.1", filename=OFFICE)
        yield built, fake, private_bus


def changed(**props) -> list:
    return [
        DEVICE,
        {k: v if isinstance(v, Variant) else Variant("s", v) for k, v in props.items()},
        [],
    ]


async def test_snapshot_through_round_trips(world):
    built, _, bus = world
    async with Collected(built.ns("host"), bus.env) as got:
        snapshot = await got.snapshot()
    assert snapshot_links(snapshot) == {
        ETH0: {
            "DeviceState": "activated",
            "Reason": "none",
            "Interface": "eth0",
            "IpInterface": "eth0",
            "Name": "eth0",
            "ConnectionId": "office",  # GetAll of the active connection
            "ConnectionUuid": UUID,
            "ConnectionPath": NM + "/Settings/3",  # its Connection, and that profile's GetAll
            "ConnectionFilename": OFFICE,
            "ConnectionExternal": "0",
            "Ip4Gateway": "192.0.2.1",  # GetAll of the IP4Config object
            "Ip6Gateway": "",
            "Ip4Addresses": "",  # the fake's IP4Config has no AddressData
            "Ip6Addresses": "",
        }
    }
    assert snapshot.manager == (("State", "connected-global"), ("Connectivity", "full"))


LIES = [
    # (why it is a lie, path, interface, member, signature, body, counted as)
    ("two states", DEV3, DEVICE, "StateChanged", "uu", [30, 100], "signature"),
    ("no such state", DEV3, DEVICE, "StateChanged", "uuu", [105, 100, 0], "state"),
    ("absurd reason", DEV3, DEVICE, "StateChanged", "uuu", [30, 100, 2**31], "value"),
    ("path not canonical", NM + "/Devices/03", DEVICE, "StateChanged", "uuu", [30, 100, 0], "path"),
    (
        "state as text",
        DEV3,
        PROPS,
        "PropertiesChanged",
        "sa{sv}as",
        changed(State="disconnected"),
        "type",
    ),
    (
        "name with a slash",
        DEV3,
        PROPS,
        "PropertiesChanged",
        "sa{sv}as",
        changed(Interface="../../x"),
        "value",
    ),
    (
        "connection elsewhere",
        DEV3,
        PROPS,
        "PropertiesChanged",
        "sa{sv}as",
        changed(ActiveConnection=Variant("o", NM + "/Devices/1")),
        "path",
    ),
    (
        "no such global state",
        NM,
        "org.freedesktop.NetworkManager",
        "StateChanged",
        "u",
        [35],
        "state",
    ),
]


async def test_each_lie_is_dropped_and_counted(world):
    built, fake, bus = world
    async with Collected(built.ns("host"), bus.env) as got:
        await got.status(up=True)
        mark = got.mark()
        for _why, path, interface, member, signature, body, _reason in LIES:
            await fake.send_raw(path, interface, member, signature, body)
        # the same change from a peer that does not own the name, sent straight to netevd
        async with FakeNetworkManager(bus.address, own_name=False) as liar:
            for name in await bus.names(fake.unique_name, liar.unique_name):
                await liar.send_raw(
                    DEV3, DEVICE, "StateChanged", "uuu", [30, 100, 39], destination=name
                )
        # then a true change, after the owner's lies (one sender's messages arrive in order)
        fake.set_state(3, 110, 39)
        truth = await got.device_state(ETH0, "deactivating", since=mark)
        assert (truth["DeviceStateOld"], truth["Reason"]) == ("activated", "user-requested")
        await wait_until(lambda: got.source.counts["rejected.sender"] == 1, 5)
        assert len(got.events) == mark + 1  # the truth alone: no lie made an event
    counts = {k: v for k, v in got.source.counts.items() if k.startswith("rejected.")}
    assert counts == {
        "rejected.signature": 1,
        "rejected.state": 2,
        "rejected.value": 2,
        "rejected.path": 2,
        "rejected.type": 1,
        "rejected.sender": 1,
    }
    sample = got.metrics.registry.get_sample_value
    for key, count in counts.items():
        labels = {"source": "NetworkManager", "reason": key.split(".", 1)[1]}
        assert sample("netevd_dbus_rejected_total", labels) == count


async def test_a_devices_events_wait_for_its_round_trip(world):
    built, fake, bus = world
    fake.add_device(5, "eth1", state=30)  # known from the snapshot, not yet activated
    async with Collected(built.ns("host"), bus.env) as got:
        await got.status(up=True)
        calls = got.source.counts["call.GetAll.ok"]
        mark = got.mark()
        fake.activate(5, "lab", UUID, gateway="198.51.100.1")  # a connection nobody described
        for state in (40, 50, 70, 80, 90, 100):
            fake.set_state(5, state)
        await got.device_state(ETH1, "activated", since=mark)
        events = got.link_events(ETH1, mark)
        # the connection first (fetched), then every state in order, each with the connection
        assert events[0]["ConnectionId"] == "lab"
        assert [e["DeviceState"] for e in events[1:]] == [
            "prepare",
            "config",
            "ip-config",
            "ip-check",
            "secondaries",
            "activated",
        ]
        assert all(
            e["ConnectionId"] == "lab" and e["Ip4Gateway"] == "198.51.100.1" for e in events[1:]
        )
        # two fetches: the connection (asked for by the device and by ActiveConnections, once)
        # and its profile
        assert got.source.counts["call.GetAll.ok"] == calls + 2


async def test_devices_added_and_removed(world):
    built, fake, bus = world
    async with Collected(built.ns("host"), bus.env) as got:
        await got.status(up=True)
        mark = got.mark()
        fake.add_device(7, "eth1", state=20, announce=True)  # fetched, found as ifindex 42
        added = await got.wait_for(has(ManagerLinkChanged, Name="eth1"), mark)
        assert added.index == ETH1
        assert dict(added.properties)["DeviceState"] == "unavailable"
        fake.manager.device_removed(NM + "/Devices/7")
        await got.wait_for(has(ManagerLinkRemoved, index=ETH1), mark)
        fake.manager.device_removed(NM + "/Devices/99")  # never known: nothing to say
        fake.set_state(3, 110, 39)
        await got.device_state(ETH0, "deactivating", since=mark)
        assert [e for e in got.events[mark:] if isinstance(e, ManagerLinkRemoved)] == [
            ManagerLinkRemoved("NetworkManager", ETH1)
        ]


async def test_networkmanager_gone_and_back(world):
    built, fake, bus = world
    async with Collected(built.ns("host"), bus.env) as got:
        await got.status(up=True)
        mark = got.mark()
        await fake.stop()
        down = await got.status(up=False, since=mark)
        assert "not on the bus" in down.detail
        again = FakeNetworkManager(bus.address)
        again.add_device(3, "eth0", state=30)
        again.manager.state = 20
        async with again:
            await got.status(up=True, since=mark)
            snapshot = await got.snapshot(since=mark)
            assert snapshot_links(snapshot)[ETH0]["DeviceState"] == "disconnected"
            assert snapshot.manager[0] == ("State", "disconnected")
        assert got.source.counts["reconnects"] == 0  # the bus stayed: only the owner changed
