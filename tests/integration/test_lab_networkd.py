"""The lab's systemd-networkd node: the real networkd, DHCP from a networkd server, networkctl,
and the fake org.freedesktop.network1 checked against the real service's introspection."""

import pytest
from dbus_fast import Message
from dbus_fast.aio import MessageBus
from dbus_fast.introspection import Node

from lab import PrivateBus
from lab.daemons.networkd import (
    NetworkdNode,
    dhcp_client_network,
    dhcp_server_network,
    networkd_dhcp,
)
from lab.fakes import FakeNetwork1

pytestmark = pytest.mark.dbus  # each test starts its own dbus-daemon

SERVER = dhcp_server_network("eth0", "10.231.70.1/24")


@pytest.fixture
async def pair(lab):
    built = await lab(networkd_dhcp())
    server = NetworkdNode(built.ns("server"), {"10-eth0.network": SERVER}, name="server")
    client = NetworkdNode(
        built.ns("client"), {"10-eth0.network": dhcp_client_network("eth0")}, name="client"
    )
    try:
        await server.start()
        await client.start()
        yield built, server, client
    finally:
        await client.stop()
        await server.stop()


async def test_client_gets_a_lease_from_a_networkd_server(pair):
    built, server, client = pair
    doc = await client.wait_for("eth0", operational="routable", administrative="configured")
    assert doc["Index"] == 40
    (addr,) = [a for a in doc["Addresses"] if a["Family"] == 2 and a["ScopeString"] == "global"]
    assert addr["Address"][:3] == [10, 231, 70]
    assert 100 <= addr["Address"][3] < 120
    routes = await built.ip_json("client", "route", "show", "default")
    assert [(r["gateway"], r["dev"], r["protocol"]) for r in routes] == [
        ("10.231.70.1", "eth0", "dhcp")
    ]
    listing = await client.networkctl("list")
    assert any(
        line.split()[1:5] == ["eth0", "ether", "routable", "configured"]
        for line in listing.stdout.splitlines()
        if line.strip()[:2] == "40"
    )
    served = await server.networkctl("status", "eth0")
    assert "Offered DHCP leases" in served.stdout


async def test_networkd_restarts_in_place(pair):
    _, _, client = pair
    await client.wait_for("eth0", operational="routable", administrative="configured")
    await client.stop_networkd()
    await client.stop_bus()
    assert not client.bus_socket.exists()
    await client.start_bus()
    await client.start_networkd()
    await client.wait_for("eth0", operational="routable", administrative="configured")


async def introspect(address, path):
    bus = await MessageBus(bus_address=address).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.network1",
                path=path,
                interface="org.freedesktop.DBus.Introspectable",
                member="Introspect",
            )
        )
    finally:
        bus.disconnect()
    return {i.name: i for i in Node.parse(reply.body[0]).interfaces}


def shape(interface):
    methods = {
        m.name: ([a.signature for a in m.in_args], [a.signature for a in m.out_args])
        for m in interface.methods
    }
    props = {p.name: (p.signature, p.access.value) for p in interface.properties}
    signals = {s.name: [a.signature for a in s.args] for s in interface.signals}
    return methods, props, signals


async def test_fake_network1_matches_the_real_introspection(pair, tmp_path):
    _, _, client = pair
    await client.wait_for("eth0", administrative="configured")
    async with PrivateBus(tmp_path / "bus") as bus, FakeNetwork1(bus.address) as fake:
        fake.add_link(40, "eth0", OperationalState="routable")
        for path, name in (
            ("/org/freedesktop/network1", "org.freedesktop.network1.Manager"),
            ("/org/freedesktop/network1/link/_340", "org.freedesktop.network1.Link"),
        ):
            real_node = await introspect(client.address, path)
            fake_node = await introspect(bus.address, path)
            real, ours = shape(real_node[name]), shape(fake_node[name])
            for kind, mine, theirs in zip(("method", "property"), ours, real, strict=False):
                assert mine, f"the fake implements no {kind} of {name}"
                for member, signature in mine.items():
                    assert member in theirs, f"{name}.{member}: no such {kind} in networkd"
                    assert signature == theirs[member], f"{name}.{member} differs from networkd"
            assert set(real[1]) <= set(ours[1]), f"{name}: the fake lacks some properties"
            assert ours[2] == real[2] == {}  # networkd's changes come as PropertiesChanged
            properties = "org.freedesktop.DBus.Properties"
            assert shape(fake_node[properties])[2] == shape(real_node[properties])[2]
