"""The lab's NetworkManager node: the real NetworkManager 1.42 with DHCP from dnsmasq, nmcli on
its private bus, restarts of NM and of the bus, and the fake NetworkManager checked against the
real service's introspection (the VPN connection's, which the real one shows only with a VPN
plugin running, against NetworkManager 1.42.4's XML: tests/unit/sources/
test_fake_networkmanager_matches_nm.py)."""

from pathlib import Path

import pytest
from dbus_fast import Message
from dbus_fast.aio import MessageBus
from dbus_fast.introspection import Node

from lab import DnsmasqServer, PrivateBus
from lab.daemons.networkmanager import NetworkManagerNode, networkmanager_dhcp
from lab.fakes import FakeNetworkManager

pytestmark = pytest.mark.dbus  # each test starts its own dbus-daemon

ROUTER = "10.231.80.1"
NM = "/org/freedesktop/NetworkManager"
RECORDED = Path(__file__).parents[1] / "unit" / "data" / "dbus" / "networkmanager-1.42.4.xml"


@pytest.fixture
async def node(lab, tmp_path):
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
        await nm.add_connection("wired", "eth0")
        await nm.start()
        await nm.wait_for_device_state("eth0", "activated")
        yield built, nm
    finally:
        await nm.stop()


async def test_networkmanager_gets_a_lease_from_dnsmasq(node):
    built, nm = node
    shown = await nm.nmcli("-t", "-f", "DEVICE,STATE,CONNECTION", "device")
    assert "eth0:connected:wired" in shown.stdout.splitlines()
    assert "lo:unmanaged:" in shown.stdout.splitlines()  # everything but eth0 is left alone
    (addr,) = [
        a["local"]
        for link in await built.ip_json("client", "addr", "show", "eth0")
        for a in link["addr_info"]
        if a["family"] == "inet"
    ]
    assert addr.startswith("10.231.80.")
    routes = await built.ip_json("client", "route", "show", "default")
    assert [(r["gateway"], r["protocol"]) for r in routes] == [(ROUTER, "dhcp")]
    # NM's own files went to the node's private /run and /var/lib/NetworkManager
    device_file = nm.run_dir / "NetworkManager" / "devices" / "10"  # by ifindex
    assert "managed=true" in device_file.read_text()
    assert any(p.name.startswith("internal-") for p in nm.varlib.iterdir())  # the DHCP lease


async def test_networkmanager_killed_and_restarted_while_the_bus_stays(node):
    _, nm = node
    bus_pid, first_owner = nm.bus.pid, nm.owner
    await nm.kill_nm()
    assert nm.nm.returncode == -9
    assert await nm.busctl_owner() == ""
    await nm.start_nm()
    assert nm.owner not in ("", first_owner)
    await nm.wait_for_device_state("eth0", "activated")
    assert nm.bus.pid == bus_pid


async def test_the_bus_restarts_on_its_own(node):
    _, nm = node
    await nm.stop_nm()
    await nm.stop_bus()
    assert not nm.bus_socket.exists()
    await nm.start_bus()
    await nm.start_nm()
    await nm.wait_for_device_state("eth0", "activated")


async def introspect(address, path, destination):
    bus = await MessageBus(bus_address=address).connect()
    try:
        reply = await bus.call(
            Message(
                destination=destination,
                path=path,
                interface="org.freedesktop.DBus.Introspectable",
                member="Introspect",
            )
        )
    finally:
        bus.disconnect()
    return {i.name: i for i in Node.parse(reply.body[0]).interfaces}


async def get_all(address, path, interface):
    bus = await MessageBus(bus_address=address).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.NetworkManager",
                path=path,
                interface="org.freedesktop.DBus.Properties",
                member="GetAll",
                signature="s",
                body=[interface],
            )
        )
    finally:
        bus.disconnect()
    return reply.body[0]


async def device_objects(nm):
    """The real device eth0's own path and those of its active connection and IP configs."""
    bus = await MessageBus(bus_address=nm.address).connect()
    try:
        path = (
            await bus.call(
                Message(
                    destination="org.freedesktop.NetworkManager",
                    path=NM,
                    interface="org.freedesktop.NetworkManager",
                    member="GetDeviceByIpIface",
                    signature="s",
                    body=["eth0"],
                )
            )
        ).body[0]
        reply = await bus.call(
            Message(
                destination="org.freedesktop.NetworkManager",
                path=path,
                interface="org.freedesktop.DBus.Properties",
                member="GetAll",
                signature="s",
                body=["org.freedesktop.NetworkManager.Device"],
            )
        )
    finally:
        bus.disconnect()
    props = reply.body[0]
    return path, props["ActiveConnection"].value, props["Ip4Config"].value, props["Ip6Config"].value


def shape(interface):
    methods = {
        m.name: ([a.signature for a in m.in_args], [a.signature for a in m.out_args])
        for m in interface.methods
    }
    props = {p.name: (p.signature, p.access.value) for p in interface.properties}
    signals = {s.name: [a.signature for a in s.args] for s in interface.signals}
    return methods, props, signals


# Every member NetworkManagerSource uses, by interface: (methods, properties, signals).
USED = {
    "org.freedesktop.NetworkManager": (
        {"GetDevices"},
        {"State", "Connectivity", "Devices", "ActiveConnections"},
        {"StateChanged", "DeviceAdded", "DeviceRemoved"},
    ),
    "org.freedesktop.NetworkManager.Device": (
        set(),
        {
            "Interface",
            "IpInterface",
            "State",
            "StateReason",
            "ActiveConnection",
            "Ip4Config",
            "Ip6Config",
        },
        {"StateChanged"},
    ),
    "org.freedesktop.NetworkManager.Connection.Active": (
        set(),
        {"Id", "Uuid", "Connection", "Devices", "StateFlags", "Vpn", "Ip4Config", "Ip6Config"},
        set(),
    ),
    "org.freedesktop.NetworkManager.Settings.Connection": (set(), {"Filename"}, set()),
    "org.freedesktop.NetworkManager.IP4Config": (set(), {"Gateway", "AddressData"}, set()),
    "org.freedesktop.NetworkManager.IP6Config": (set(), {"Gateway", "AddressData"}, set()),
}


async def test_fake_networkmanager_matches_the_real_introspection(node, tmp_path):
    _, nm = node
    device, active, ip4, ip6 = await device_objects(nm)
    active_props = await get_all(
        nm.address, active, "org.freedesktop.NetworkManager.Connection.Active"
    )
    profile = active_props["Connection"].value  # .../Settings/N
    async with PrivateBus(tmp_path / "bus") as bus, FakeNetworkManager(bus.address) as fake:
        fake.add_device(2, "eth0", state=100)
        fake.activate(
            2, "wired", "0dd5c0de-1111-4222-8333-444455556666", gateway=ROUTER, filename="/x"
        )
        fake_device = fake.devices[2]
        fake_active = fake.active(fake_device.active_connection)
        pairs = (
            (NM, NM, "org.freedesktop.NetworkManager"),
            (device, f"{NM}/Devices/2", "org.freedesktop.NetworkManager.Device"),
            (
                active,
                fake_device.active_connection,
                "org.freedesktop.NetworkManager.Connection.Active",
            ),
            (
                profile,
                fake_active.connection,
                "org.freedesktop.NetworkManager.Settings.Connection",
            ),
            (ip4, fake_device.ip4_config, "org.freedesktop.NetworkManager.IP4Config"),
            (ip6, fake_device.ip6_config, "org.freedesktop.NetworkManager.IP6Config"),
        )
        for real_path, fake_path, name in pairs:
            dest = "org.freedesktop.NetworkManager"
            real = shape((await introspect(nm.address, real_path, dest))[name])
            ours = shape((await introspect(bus.address, fake_path, dest))[name])
            kinds = ("method", "property", "signal")
            for kind, mine, theirs, used in zip(kinds, ours, real, USED[name], strict=True):
                for member, signature in mine.items():
                    assert member in theirs, f"{name}.{member}: no such {kind} in NetworkManager"
                    assert signature == theirs[member], f"{name}.{member} differs from NM's"
                assert used <= set(mine), f"the fake lacks {kind}s {used - set(mine)} of {name}"


async def test_the_recorded_introspection_is_the_running_networkmanagers(node):
    """tests/unit/data/dbus/networkmanager-1.42.4.xml (from NetworkManager's repository, tag
    1.42.4), against which the fake's VPN connection is checked offline, is what the running
    NetworkManager 1.42 serves for every interface the lab can show live."""
    _, nm = node
    device, active, ip4, ip6 = await device_objects(nm)
    props = await get_all(nm.address, active, "org.freedesktop.NetworkManager.Connection.Active")
    recorded = {i.name: i for i in Node.parse(RECORDED.read_text()).interfaces}
    for path, name in (
        (NM, "org.freedesktop.NetworkManager"),
        (device, "org.freedesktop.NetworkManager.Device"),
        (active, "org.freedesktop.NetworkManager.Connection.Active"),
        (props["Connection"].value, "org.freedesktop.NetworkManager.Settings.Connection"),
        (ip4, "org.freedesktop.NetworkManager.IP4Config"),
        (ip6, "org.freedesktop.NetworkManager.IP6Config"),
    ):
        live = (await introspect(nm.address, path, "org.freedesktop.NetworkManager"))[name]
        assert shape(live) == shape(recorded[name]), name
