"""netevd with ``backend: systemd-networkd`` against the real systemd-networkd.

The client namespace runs networkd as a DHCP client of a networkd DHCP server next door, and
netevd in the same namespace on networkd's bus. The client's .network also carries a link-scope
address, so while DHCP is away the link is ``degraded`` rather than merely ``carrier``.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab import Lab, wait_until
from lab.daemons.networkd import (
    NetworkdNode,
    dhcp_client_network,
    dhcp_server_network,
    networkd_dhcp,
)
from lab.http import NsApi
from lab.netevd import Daemon, NetevdProcess, ScriptDirs

pytestmark = pytest.mark.dbus  # each test starts its own dbus-daemon

SERVER = dhcp_server_network("eth0", "10.231.70.1/24")
CLIENT = dhcp_client_network("eth0", extra="\n[Address]\nAddress=10.231.71.1/24\nScope=link\n")
STATES = ("carrier", "no-carrier", "configuring", "configured", "degraded", "routable", "manager")


@dataclass
class World:
    lab: Lab
    server: NetworkdNode
    client: NetworkdNode
    scripts: ScriptDirs
    tmp: Path
    start: Callable[..., Awaitable[Daemon]]  # the netevd fixture

    async def netevd(self, **sections) -> Daemon:
        """netevd in the client namespace, on its networkd's bus."""
        sections["system"] = {"backend": "systemd-networkd", **sections.get("system", {})}
        return await self.start(
            self.lab, self.scripts, ns="client", env=self.client.env, **sections
        )

    async def server_link(self, state: str) -> None:
        await self.lab.run("server", "ip", "link", "set", "eth0", state)


@pytest.fixture
async def world(lab, netevd, tmp_path):
    built = await lab(networkd_dhcp())
    server = NetworkdNode(built.ns("server"), {"10-eth0.network": SERVER}, name="server")
    client = NetworkdNode(built.ns("client"), {"10-eth0.network": CLIENT}, name="client")
    scripts = ScriptDirs(tmp_path / "scripts", record=STATES)
    try:
        await server.start()
        await client.start()
        await client.wait_for("eth0", operational="routable", administrative="configured")
        yield World(built, server, client, scripts, tmp_path, netevd)
    finally:
        await client.stop()
        await server.stop()


def lease(status: dict) -> str:
    (addr,) = [a for a in status["Addresses"] if a.get("ConfigSource") == "DHCPv4"]
    return ".".join(str(b) for b in addr["Address"])


async def describe(node: NetworkdNode) -> tuple[str, dict]:
    """``networkctl status --json=short eth0``: the text and the document."""
    text = (await node.networkctl("status", "--json=short", "eth0")).stdout.strip()
    return text, json.loads(text)


def assert_networkd_env(run, state: str, described: tuple[str, dict]) -> None:
    text, status = described
    env = run.env
    assert env["STATE"] == state
    assert (env["LINK"], env["LINKINDEX"]) == ("eth0", "40")
    assert env["BACKEND"] == env["GENERATOR"] == "systemd-networkd"
    assert lease(status) in env["ADDRESSES"].split()
    assert env["GATEWAY"] == "10.231.70.1"
    assert env["JSON"] == text  # Describe() verbatim: what networkctl prints


async def test_started_after_networkd_the_state_is_replayed_once(world):
    proc = (await world.netevd()).proc
    status = await describe(world.client)
    (routable,) = await world.scripts.wait_for(STATE="routable", NETEVD_REPLAY="1")
    (configured,) = await world.scripts.wait_for(STATE="configured", NETEVD_REPLAY="1")
    assert_networkd_env(routable, "routable", status)
    assert_networkd_env(configured, "configured", status)
    assert routable.env["EVENT"] == "replay"
    assert routable.env["OperationalState"] == "routable"
    assert routable.env["AdministrativeState"] == "configured"
    (manager,) = await world.scripts.wait_for(STATE="manager", NETEVD_REPLAY="1")
    assert manager.env["OperationalState"] == "routable"
    assert "LINK" not in manager.env
    # a live change afterwards is not a replay, and the replay did not happen twice
    await world.server_link("down")
    await world.scripts.wait_for(STATE="manager", OperationalState="no-carrier")
    assert len(world.scripts.matching(NETEVD_REPLAY="1", STATE="routable")) == 1
    assert "networkd.rejected" not in proc.output()


async def test_server_side_down_and_up_fires_each_state(world):
    await world.netevd()
    await world.scripts.wait_for(STATE="configured", NETEVD_REPLAY="1")
    await world.server_link("down")
    (lost,) = await world.scripts.wait_for(STATE="no-carrier")
    assert (lost.env["LINK"], lost.env["LINKINDEX"]) == ("eth0", "40")
    (manager,) = await world.scripts.wait_for(STATE="manager", OperationalState="no-carrier")
    assert manager.env["BACKEND"] == "systemd-networkd"
    await world.server_link("up")
    await world.scripts.wait_for(STATE="carrier", NETEVD_REPLAY="0")
    await world.scripts.wait_for(STATE="configuring", NETEVD_REPLAY="0")
    (degraded,) = await world.scripts.wait_for(STATE="degraded", NETEVD_REPLAY="0")
    (routable,) = await world.scripts.wait_for(STATE="routable", NETEVD_REPLAY="0")
    (configured,) = await world.scripts.wait_for(STATE="configured", NETEVD_REPLAY="0")
    status = await describe(world.client)
    assert_networkd_env(configured, "configured", status)
    assert configured.env["AdministrativeState"] == "configured"
    assert routable.env["OperationalState"] == "routable"
    assert lease(status[1]) in routable.env["ADDRESSES"].split()
    assert json.loads(routable.env["JSON"])["Index"] == 40
    assert (degraded.env["LINK"], degraded.env["OperationalState"]) == ("eth0", "degraded")
    seqs = [int(r.env["NETEVD_SEQ"]) for r in (degraded, routable, configured)]
    assert seqs == sorted(seqs)


async def health(api: NsApi) -> tuple[int, str]:
    status, body = await api.get("/health")
    return status, body["data"]["checks"]["source:systemd-networkd"]


async def test_networkd_and_bus_restarts_are_ordinary_events(world):
    daemon = await world.netevd(api=True)
    await world.scripts.wait_for(STATE="configured", NETEVD_REPLAY="1")
    assert await health(daemon.api) == (200, "ok")
    await restarts(world, daemon.proc, daemon.api)


async def restarts(world: World, proc: NetevdProcess, api: NsApi) -> None:
    # networkd stops: the backend is down, kernel events still run scripts
    await world.client.stop_networkd()
    await proc.wait_for_log(r"source\.down source=systemd-networkd")
    assert await health(api) == (503, "down")
    await world.server_link("down")
    await world.scripts.wait_for(STATE="no-carrier")
    # networkd returns with the link unconfigured: the resync fires what changed meanwhile
    await world.client.start_networkd()
    await proc.wait_for_count(r"source\.up source=systemd-networkd", 2)
    await proc.wait_for_log(r"resync seq=\d+ source=systemd-networkd")
    await world.scripts.wait_for(STATE="configuring", NETEVD_REPLAY="0")
    await world.server_link("up")
    await world.scripts.wait_for(STATE="configured", NETEVD_REPLAY="0")
    # the bus itself goes: netevd reconnects with backoff once it is back
    await world.client.stop_networkd()
    await world.client.stop_bus()
    await proc.wait_for_log(r"networkd\.lost ")
    await world.server_link("down")
    await world.scripts.wait_for(count=2, STATE="no-carrier")
    assert await health(api) == (503, "down")
    await world.client.start_bus()
    await world.client.start_networkd()
    await proc.wait_for_count(r"source\.up source=systemd-networkd", 3, timeout=20)
    assert await health(api) == (200, "ok")
    await world.server_link("up")
    await world.scripts.wait_for(count=2, STATE="configured", NETEVD_REPLAY="0")
    assert proc.running
    assert "Traceback" not in proc.output()


async def test_policy_rules_are_back_after_networkd_restarts_and_reconfigures(world):
    """networkd removes rules it did not create when it reconfigures a link (v252 here: on
    `networkctl reconfigure`; a restart left them alone). A user's `ip rule` is gone after it;
    netevd's rules for the link's (DHCP) address are in place again."""
    await world.lab.run(
        "client", "ip", "rule", "add", "from", "10.231.72.9", "lookup", "300", "priority", "300"
    )
    proc = (
        await world.netevd(
            routing={"policy_rules": ["eth0"], "to_rules": False},
            system={"state_dir": str(world.tmp / "state")},
        )
    ).proc

    async def rules() -> list[tuple[str | None, str, str | None]]:
        found = await world.lab.ip_json("client", "rule", "show")
        return [(r.get("src"), r["table"], r.get("protocol")) for r in found]

    async def installed() -> bool:
        address = lease(await world.client.status("eth0"))
        return (address, "240", "78") in await rules()

    await wait_until(installed, timeout=15, message="netevd's rule")
    await world.client.stop_networkd()
    await world.client.start_networkd()
    await world.client.wait_for("eth0", operational="routable", administrative="configured")
    await wait_until(installed, timeout=20, message="netevd's rule after networkd restart")
    await world.client.networkctl("reconfigure", "eth0")
    await proc.wait_for_log(r"kind=rule-removed priority=300 table=300", timeout=20)
    await world.client.wait_for("eth0", operational="routable", administrative="configured")
    await wait_until(installed, timeout=20, message="netevd's rule after a reconfigure")
    assert ("10.231.72.9", "300", None) not in await rules()  # networkd did clean up
    assert proc.running


async def test_auto_finds_networkd_on_the_bus(world):
    proc = (await world.netevd(system={"backend": "auto"})).proc
    await proc.wait_for_log(r"starting .*backend=systemd-networkd")
    (run,) = await world.scripts.wait_for(STATE="configured", NETEVD_REPLAY="1")
    assert run.env["BACKEND"] == "systemd-networkd"


async def test_the_kernels_hooks_run_as_networkd_takes_its_lease_down_and_up(world):
    """address-added.d, address-removed.d and gateway.d come from the kernel whatever the
    backend: networkd drops its DHCP lease on carrier loss and takes a new one after."""
    for hook in ("address-added", "address-removed", "gateway"):
        world.scripts.add(hook)
    await world.netevd(scripts={"routes_debounce_ms": 50})
    await world.scripts.wait_for(STATE="configured", NETEVD_REPLAY="1")
    leased = lease((await describe(world.client))[1])
    await world.server_link("down")
    (removed,) = await world.scripts.wait_for(STATE="address-removed", ADDRESS=leased)
    assert (removed.link, removed.env["FAMILY"], removed.env["PREFIXLEN"]) == ("eth0", "inet", "24")
    (gone,) = await world.scripts.wait_for(STATE="gateway", EVENT="del")
    assert (gone.link, gone.env["GATEWAY_OLD"]) == ("eth0", "10.231.70.1")
    await world.server_link("up")
    await world.scripts.wait_for(STATE="configured", NETEVD_REPLAY="0")
    leased = lease((await describe(world.client))[1])
    (added,) = await world.scripts.wait_for(STATE="address-added", ADDRESS=leased)
    assert (added.link, added.env["SCOPE"]) == ("eth0", "global")
    (new,) = await world.scripts.wait_for(STATE="gateway", EVENT="new")
    assert (new.link, new.env["GATEWAY"], new.env["FAMILY"]) == ("eth0", "10.231.70.1", "inet")
    # the link-scope address networkd keeps throughout runs no address hook (link_local off)
    assert not world.scripts.matching(ADDRESS="10.231.71.1")
