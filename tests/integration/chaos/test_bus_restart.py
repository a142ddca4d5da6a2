"""Chaos: the system bus (the lab's private dbus-daemon) restarted under the real
systemd-networkd and under the real NetworkManager.

The backend shows down, then up, in /health and /api/v1/status; what changed while the bus was
away is replayed; what did not change runs nothing twice.
"""

import pytest
from chaos_support import health

from lab import wait_until
from lab.daemons.networkd import (
    NetworkdNode,
    dhcp_client_network,
    dhcp_server_network,
    networkd_dhcp,
)
from lab.daemons.networkmanager import (
    NetworkManagerNode,
    networkmanager_dhcp,
    networkmanager_dhcp_server,
)
from lab.netevd import ScriptDirs

pytestmark = pytest.mark.dbus

NETWORKD_STATES = ("carrier", "no-carrier", "configuring", "configured", "degraded", "routable")
NM_STATES = ("activated", "deactivating", "disconnected", "carrier", "no-carrier")


async def source_up(api, source: str, up: bool) -> bool:
    status = await api.data("/api/v1/status")
    code, data = await health(api)
    check = data["checks"].get(f"source:{source}")
    return status["sources"].get(source) is up and (code, check) == (
        (200, "ok") if up else (503, "down")
    )


async def beside(netevd, built, scripts, env, backend: str):
    """netevd in ``client`` on that node's bus with *backend*, its API on, the backend up."""
    daemon = await netevd(
        built, scripts, ns="client", env=env, api=True, system={"backend": backend}
    )
    await wait_until(lambda: source_up(daemon.http, backend, True), 10, message=f"{backend} up")
    return daemon.proc, daemon.http


async def restart_bus(client: NetworkdNode, api, meanwhile=None) -> None:
    """The bus goes (networkd with it, as when dbus.service restarts) and comes back; netevd
    shows the backend down, then up. *meanwhile* runs while it is away."""
    await client.stop_networkd()
    await client.stop_bus()
    await wait_until(lambda: source_up(api, "systemd-networkd", False), 15, message="down")
    if meanwhile is not None:
        await meanwhile()
    await client.start_bus()
    await client.start_networkd()
    await wait_until(lambda: source_up(api, "systemd-networkd", True), 30, message="up")


def counts(scripts: ScriptDirs) -> dict[str, int]:
    found: dict[str, int] = {}
    for run in scripts.runs():
        found[run.env["STATE"]] = found.get(run.env["STATE"], 0) + 1
    return found


async def test_bus_restart_under_networkd(lab, netevd, tmp_path):
    built = await lab(networkd_dhcp())
    server = NetworkdNode(
        built.ns("server"), {"10-eth0.network": dhcp_server_network("eth0", "10.231.91.1/24")},
        name="server",
    )  # fmt: skip
    client = NetworkdNode(
        built.ns("client"), {"10-eth0.network": dhcp_client_network("eth0")}, name="client"
    )
    scripts = ScriptDirs(tmp_path / "scripts", record=NETWORKD_STATES)
    try:
        await server.start()
        await client.start()
        await client.wait_for("eth0", operational="routable", administrative="configured")
        proc, api = await beside(netevd, built, scripts, client.env, "systemd-networkd")
        await scripts.wait_for(STATE="configured", NETEVD_REPLAY="1")
        await scripts.wait_for(STATE="routable", NETEVD_REPLAY="1")
        before = counts(scripts)
        # the bus restarts, nothing else changes
        await restart_bus(client, api)
        await client.wait_for("eth0", operational="routable", administrative="configured")
        await proc.wait_for_log(r"resync seq=\d+ source=systemd-networkd")
        # nothing it reported had changed: routable does not run again
        assert counts(scripts).get("routable") == before["routable"]

        # the bus goes again, and this time the cable too: that change is replayed
        async def cable_out() -> None:
            await built.run("server", "ip", "link", "set", "eth0", "down")
            await scripts.wait_for(STATE="no-carrier", LINK="eth0")  # the kernel's, meanwhile

        await restart_bus(client, api, meanwhile=cable_out)
        await built.run("server", "ip", "link", "set", "eth0", "up")
        await scripts.wait_for(count=before["routable"] + 1, STATE="routable", timeout=30)
        assert proc.output().count("source.down source=systemd-networkd") == 2
        assert proc.running
        assert "Traceback" not in proc.output()
    finally:
        await client.stop()
        await server.stop()


async def test_bus_restart_under_networkmanager(lab, netevd, tmp_path):
    built = await lab(networkmanager_dhcp())
    await networkmanager_dhcp_server(built, tmp_path / "dnsmasq")
    nm = NetworkManagerNode(built.ns("client"))
    scripts = ScriptDirs(tmp_path / "scripts", record=NM_STATES)
    try:
        await nm.start()
        await nm.add_connection("wired", "eth0", uuid="0dd5c0de-1111-4222-8333-444455556677")
        await nm.wait_for_device_state("eth0", "activated")
        proc, api = await beside(netevd, built, scripts, nm.env, "NetworkManager")
        await scripts.wait_for(STATE="activated", NETEVD_REPLAY="1")
        # the bus goes and comes back (NetworkManager restarted with it)
        await nm.stop_nm()
        await nm.stop_bus()
        await wait_until(lambda: source_up(api, "NetworkManager", False), 15, message="down")
        await nm.start_bus()
        await nm.start_nm()
        await nm.wait_for_device_state("eth0", "activated")
        await wait_until(lambda: source_up(api, "NetworkManager", True), 30, message="up")
        # NetworkManager takes the device back up itself: that is a change and it runs
        await scripts.wait_for(STATE="activated", NETEVD_REPLAY="0", timeout=30)
        assert len(scripts.matching(STATE="activated", NETEVD_REPLAY="0")) == 1
        assert proc.output().count("source.down source=NetworkManager") == 1
        assert proc.running
        assert "Traceback" not in proc.output()
    finally:
        await nm.stop()
