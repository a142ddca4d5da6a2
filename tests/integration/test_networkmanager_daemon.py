"""The real netevd with `system.backend: NetworkManager` against the real NetworkManager 1.42
(and, for the lies, the fake): the scripts a user sees, with NetworkManager's environment.

``client`` runs NetworkManager (eth0, ifindex 10, managed) on its own bus and netevd beside it;
``server`` runs dnsmasq (``--no-ping``) offering 10.231.80.100-150 with router 10.231.80.1.
"""

import json
import signal

import pytest
from dbus_fast import Variant

from lab import Topology, wait_until
from lab.daemons.networkmanager import (
    NetworkManagerNode,
    networkmanager_dhcp,
    networkmanager_dhcp_server,
)
from lab.fakes import FakeNetworkManager
from lab.netevd import ScriptDirs

pytestmark = pytest.mark.dbus

ROUTER = "10.231.80.1"
UUID = "0dd5c0de-1111-4222-8333-444455556666"
STATES = ("activated", "deactivating", "disconnected", "manager", "carrier", "no-carrier")
NM_BACKEND = {"system": {"backend": "NetworkManager"}}


@pytest.fixture
async def world(lab, tmp_path):
    built = await lab(networkmanager_dhcp())
    # a second link NetworkManager does not manage: kernel events must flow whatever NM does
    await built.run(
        "client", "ip", "link", "add", "eth1", "index", "30", "type", "veth",
        "peer", "name", "eth1", "index", "31", "netns", built.ns("server"),
    )  # fmt: skip
    await built.run("client", "ip", "link", "set", "eth1", "up")
    await built.run("server", "ip", "link", "set", "eth1", "up")
    await networkmanager_dhcp_server(built, tmp_path / "dnsmasq")
    nm = NetworkManagerNode(built.ns("client"))
    scripts = ScriptDirs(tmp_path / "scripts", record=STATES)
    try:
        await nm.start()
        yield built, nm, scripts
    finally:
        await nm.stop()


async def test_lease_down_and_up_run_the_device_states_with_networkmanagers_environment(
    world, netevd
):
    built, nm, scripts = world
    await netevd(built, scripts, ns="client", env=nm.env, **NM_BACKEND)
    await nm.add_connection("wired", "eth0", uuid=UUID)

    await scripts.wait_for(STATE="activated")
    (manager,) = await scripts.wait_for(STATE="connected-global")
    assert manager.env["BACKEND"] == "NetworkManager"
    assert manager.env["CONNECTIVITY"] in ("full", "none", "unknown")  # the check is off
    (run,) = scripts.matching(STATE="activated")  # once
    address = run.env["ADDRESSES"]
    assert address.startswith("10.231.80.")
    assert {k: run.env.get(k) for k in (
        "LINK", "LINKINDEX", "BACKEND", "DEVICE_IFACE", "DEVICE_IP_IFACE", "CONNECTION_ID",
        "CONNECTION_UUID", "IP4_GATEWAY", "GATEWAY", "REASON", "NM_STATE_OLD", "EVENT",
    )} == {
        "LINK": "eth0", "LINKINDEX": "10", "BACKEND": "NetworkManager", "DEVICE_IFACE": "eth0",
        "DEVICE_IP_IFACE": "eth0", "CONNECTION_ID": "wired", "CONNECTION_UUID": UUID,
        "IP4_GATEWAY": ROUTER, "GATEWAY": ROUTER, "REASON": "none",
        "NM_STATE_OLD": "secondaries", "EVENT": "manager-link",
    }  # fmt: skip
    doc = json.loads(run.env["NETEVD_JSON"])
    assert doc["networkmanager"]["DeviceState"] == "activated"
    assert doc["networkmanager"]["ConnectionUuid"] == UUID
    # the profile: its object path (the active connection's Connection) and its keyfile
    profile = ("/org/freedesktop/NetworkManager/Settings/1", str(nm.conns / "wired.nmconnection"))
    assert (run.env["CONNECTION_DBUS_PATH"], run.env["CONNECTION_FILENAME"]) == profile
    assert "CONNECTION_EXTERNAL" not in run.env
    assert doc["networkmanager"]["ConnectionExternal"] == "0"

    mark = len(scripts.runs())
    await nm.nmcli("connection", "down", "wired")

    def device_runs():  # manager.d runs too meanwhile, with STATE = the global state
        return [r for r in scripts.runs()[mark:] if r.link == "eth0"]

    def after_down(state):
        return [r for r in device_runs() if r.state == state]

    (gone,) = await wait_until(lambda: after_down("disconnected"), 15, message="disconnected.d")
    order = [r.state for r in device_runs()]
    assert order == ["deactivating", "disconnected"]  # in that order, once each
    (leaving,) = after_down("deactivating")
    assert (leaving.env["REASON"], leaving.env["NM_STATE_OLD"]) == ("user-requested", "activated")
    assert (gone.env["REASON"], gone.env["NM_STATE_OLD"]) == ("user-requested", "deactivating")
    # the active connection is gone by state 30: its name is carried over
    assert (gone.env["CONNECTION_ID"], gone.env["CONNECTION_UUID"]) == ("wired", UUID)
    assert (gone.env["CONNECTION_DBUS_PATH"], gone.env["CONNECTION_FILENAME"]) == profile

    await nm.nmcli("connection", "up", "wired")
    await wait_until(lambda: after_down("activated"), 15, message="activated.d again")


async def test_networkmanager_killed_and_started_again(world, netevd):
    built, nm, scripts = world
    await nm.add_connection("wired", "eth0", uuid=UUID)
    await nm.wait_for_device_state("eth0", "activated")
    daemon = await netevd(built, scripts, ns="client", env=nm.env, api=True, **NM_BACKEND)
    (replayed,) = await scripts.wait_for(STATE="activated")
    assert replayed.env["NETEVD_REPLAY"] == "1"

    async def nm_up(up):
        status = await daemon.http.data("/api/v1/status")
        return status["backend"] == "NetworkManager" and status["sources"]["NetworkManager"] is up

    await nm.kill_nm()
    await wait_until(lambda: nm_up(False), 15, message="NetworkManager reported down")
    # meanwhile the kernel's events flow: eth1 loses its carrier
    await built.run("server", "ip", "link", "set", "eth1", "down")
    await scripts.wait_for(STATE="no-carrier", LINK="eth1")

    await nm.restart_nm()
    await wait_until(lambda: nm_up(True), 15, message="NetworkManager back")
    # NetworkManager takes the device back by itself and runs it up to activated again
    (again,) = await scripts.wait_for(STATE="activated", NETEVD_REPLAY="0")
    assert again.env["CONNECTION_ID"] == "wired"
    assert daemon.proc.running
    events = await daemon.http.data("/api/v1/events", params={"type": "source", "limit": "100"})
    nm_states = [e["detail"]["up"] for e in events if e["source"] == "NetworkManager"]
    assert nm_states[-2:] == [False, True]


def two_links() -> Topology:
    t = Topology().add_netns("host").add_netns("peer")
    t.add_veth("eth0", "host", "eth0", "peer", index=40, peer_index=41)
    return t


async def test_a_lying_peer_runs_nothing_and_is_counted(lab, netevd, tmp_path, private_bus):
    built = await lab(two_links())
    scripts = ScriptDirs(tmp_path / "scripts")
    for state in ("activated", "deactivating", "disconnected", "unknown", "manager"):
        scripts.add(state)
    dev = "/org/freedesktop/NetworkManager/Devices/3"
    device = "org.freedesktop.NetworkManager.Device"
    async with FakeNetworkManager(private_bus.address) as fake:
        fake.add_device(3, "eth0", state=100)
        fake.activate(3, "office", UUID, gateway="192.0.2.1")
        daemon = await netevd(built, scripts, env=private_bus.env, api=True, **NM_BACKEND)
        await scripts.wait_for(STATE="activated")  # the replay
        before = len(scripts.runs())
        await fake.send_raw(dev, device, "StateChanged", "uu", [30, 100])  # wrong signature
        await fake.send_raw(dev, device, "StateChanged", "uuu", [105, 100, 0])  # no such state
        props = {"State": Variant("s", "disconnected")}  # a state as text
        await fake.send_raw(
            dev, "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
            [device, props, []],
        )  # fmt: skip
        async with FakeNetworkManager(private_bus.address, own_name=False) as liar:
            # not the owner; sent straight to netevd (its match rules name the owner)
            for name in await private_bus.names(fake.unique_name, liar.unique_name):
                await liar.send_raw(
                    dev, device, "StateChanged", "uuu", [30, 100, 39], destination=name
                )

        async def counted():
            metrics = await daemon.http.metrics()
            reasons = ("signature", "state", "type", "sender")
            return all(
                metrics.total("netevd_dbus_rejected_total", source="NetworkManager", reason=r) >= 1
                for r in reasons
            )

        await wait_until(counted, 10, message="every lie counted")
        fake.set_state(3, 110, 39)  # then the truth, which runs
        await scripts.wait_for(STATE="deactivating")
        assert [r.state for r in scripts.runs()[before:]] == ["deactivating"]
        daemon.proc.send_signal(signal.SIGTERM)
        assert await daemon.proc.wait_exit(15) == 0


async def test_auto_picks_networkmanager_when_networkd_is_absent(
    lab, netevd, tmp_path, private_bus
):
    built = await lab(two_links())
    async with FakeNetworkManager(private_bus.address) as fake:
        fake.add_device(3, "eth0", state=100)
        daemon = await netevd(
            built, ScriptDirs(tmp_path / "scripts"), env=private_bus.env, api=True,
            system={"backend": "auto"},
        )  # fmt: skip
        await daemon.proc.wait_for_log(r"backend\.auto chose NetworkManager")
        status = await daemon.http.data("/api/v1/status")
        assert status["backend"] == "NetworkManager"
        assert status["sources"] == {"netlink": True, "NetworkManager": True}


async def test_the_kernels_hooks_run_beside_networkmanager(world, netevd):
    """address-added.d and gateway.d come from the kernel whatever the backend: here from
    the address and default route NetworkManager installs from its DHCP lease."""
    built, nm, scripts = world
    for hook in ("address-added", "gateway"):
        scripts.add(hook)
    await netevd(built, scripts, ns="client", env=nm.env, **NM_BACKEND)
    await nm.add_connection("wired", "eth0", uuid=UUID)
    (activated,) = await scripts.wait_for(STATE="activated")
    (gateway,) = await scripts.wait_for(STATE="gateway", EVENT="new", FAMILY="inet")
    assert (gateway.link, gateway.env["GATEWAY"]) == ("eth0", ROUTER)
    (added,) = await scripts.wait_for(STATE="address-added", FAMILY="inet")
    assert added.link == "eth0"
    assert added.env["ADDRESS"].startswith("10.231.80.")
    assert added.env["ADDRESS"] in activated.env["ADDRESSES"]
