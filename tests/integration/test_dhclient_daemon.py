"""The real netevd with `system.backend: dhclient` on the lease directory of the real dhclient
4.4.3, leasing from the real dnsmasq, telling the real systemd-resolved and systemd-hostnamed
(v252, on a private bus in a sandbox in the client namespace) what the lease says.

dhclient writes its lease file at most every 15 s (MIN_LEASE_WRITE): the deadlines are generous.
"""

import ipaddress
import json

import pytest

from lab import Topology, wait_until
from lab.daemons.dhcp import DhclientClient, DnsmasqServer, LabSubnet
from lab.daemons.sandbox import HostView
from lab.daemons.systemd_services import SystemdServices, resolved_available
from lab.netevd import ScriptDirs

pytestmark = pytest.mark.dbus
if reason := resolved_available():
    pytestmark = [pytest.mark.dbus, pytest.mark.skip(reason=reason)]

SUBNET = LabSubnet(82)
ETH0 = 20


def topology() -> Topology:
    t = Topology().add_netns("server").add_netns("client")
    t.add_veth("eth0", "server", "eth0", "client", index=21, peer_index=ETH0)
    return t.add_address("server", "eth0", f"{SUBNET.server}/24")


@pytest.fixture
async def world(lab, tmp_path):
    host = HostView.take()
    built = await lab(topology())
    server = await built.start_process(
        DnsmasqServer(
            built.ns("server"), "eth0", tmp_path / "srv", pool=SUBNET.pool, **SUBNET.offer
        )
    )
    await server.wait_ready()
    client = DhclientClient(built.ns("client"), "eth0", tmp_path / "cli")
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("routable")
    async with SystemdServices(built.ns("client")) as services:
        await services.start_hostnamed()
        await services.start_resolved()
        yield built, server, client, scripts, services
        await client.stop()
    assert HostView.take() == host, "the host's /etc or host name changed"


def dhclient_backend(client, *, names: bool) -> dict:
    return {
        "system": {"backend": "dhclient"},
        "backends": {
            "dhclient": {
                "lease_paths": [str(client.lease_dir)],
                "use_dns": names,
                "use_domain": names,
                "use_hostname": names,
            }
        },
    }


async def link_dns(services) -> str:
    return await services.resolvectl("status", "eth0")


@pytest.mark.slow
async def test_a_lease_runs_routable_and_tells_resolved_and_hostnamed(world, netevd):
    built, server, client, scripts, services = world
    daemon = await netevd(
        built, scripts, ns="client", env=services.env, api=True,
        **dhclient_backend(client, names=True),
    )  # fmt: skip
    await built.start_process(client)
    bound = await client.wait_bound()
    (run,) = await scripts.wait_for(STATE="routable", BACKEND="dhclient", timeout=20)
    env = run.env
    assert {k: env[k] for k in env if k.startswith("DHCP_") and k != "DHCP_EXPIRE"} == {
        "DHCP_ADDRESS": bound, "DHCP_SUBNET_MASK": "255.255.255.0", "DHCP_PREFIXLEN": "24",
        "DHCP_GATEWAY": SUBNET.server, "DHCP_DNS": " ".join(SUBNET.dns), "DHCP_DOMAIN": "lab.test",
        "DHCP_SEARCH": "lab.test example.org", "DHCP_HOSTNAME": "client-one",
        "DHCP_LEASE": "3600", "DHCP_SERVER": SUBNET.server,
    }  # fmt: skip
    assert int(env["DHCP_EXPIRE"]) > 0
    assert (env["LINK"], env["LINKINDEX"], env["EVENT"]) == ("eth0", str(ETH0), "lease")
    assert json.loads(env["NETEVD_JSON"])["dhcp"]["address"] == bound

    async def told():
        status = await link_dns(services)
        return all(s in status for s in SUBNET.dns) and "lab.test" in status and status

    status = await wait_until(told, 15, message="resolved holds the lease's DNS for eth0")
    assert "example.org" in status
    await wait_until(lambda: _hostname(services), 15, message="hostnamed took the host name")

    # a renewal that changes nothing runs nothing
    path = str(client.lease_file)
    before = len(scripts.runs())
    await wait_until(lambda: client.lease_file.read_text().count("lease {") >= 2, 45)
    events = await daemon.http.data("/api/v1/events", params={"type": "lease", "limit": "100"})
    assert len(events) == 1, path
    assert len(scripts.runs()) == before

    # a new address (dnsmasq reconfigured) runs it again
    await server.stop()
    moved = await built.start_process(server.with_pool(pool := SUBNET.other_pool))
    await moved.wait_ready()
    runs = await scripts.wait_for(2, STATE="routable", BACKEND="dhclient", timeout=60)
    again = runs[1]
    address = ipaddress.ip_address(again.env["DHCP_ADDRESS"])
    assert ipaddress.ip_address(pool[0]) <= address <= ipaddress.ip_address(pool[1])

    # the release: RevertLink
    await client.release()

    async def reverted():
        calls = await daemon.http.data(
            "/api/v1/events", params={"type": "service-call", "limit": "100"}
        )
        return [c for c in calls if c["detail"]["call"] == "RevertLink" and c["detail"]["ok"]]

    await wait_until(reverted, 20, message="RevertLink for eth0")
    status = await link_dns(services)
    assert not any(s in status for s in SUBNET.dns)


async def _hostname(services) -> bool:
    return await services.hostname() == "client-one"


async def test_with_the_keys_off_nothing_is_told(world, netevd):
    built, _, client, scripts, services = world
    daemon = await netevd(
        built, scripts, ns="client", env=services.env, api=True,
        **dhclient_backend(client, names=False),
    )  # fmt: skip
    hostname = await services.hostname()
    await built.start_process(client)
    await client.wait_bound()
    await scripts.wait_for(STATE="routable", BACKEND="dhclient", timeout=20)
    calls = await daemon.http.data("/api/v1/events", params={"type": "service-call"})
    assert calls == []
    status = await link_dns(services)
    assert not any(s in status for s in SUBNET.dns)
    assert await services.hostname() == hostname


async def test_garbage_lease_files_run_nothing_and_are_counted(world, netevd):
    built, _, client, scripts, services = world
    directory = client.lease_dir
    (directory / "dhclient.eth1.leases").write_bytes(bytes(range(256)) * 16)
    with (directory / "dhclient.eth2.leases").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    hostile = 'lease {\n  interface "e$(reboot)";\n  fixed-address 10.0.0.9;\n  expire never;\n}\n'
    (directory / "dhclient-e$(reboot).leases").write_text(hostile)
    (directory / "dhclient.eth3.leases").write_text(hostile.replace("e$(reboot)", "eth3")[:40])
    daemon = await netevd(
        built, scripts, ns="client", env=services.env, api=True,
        **dhclient_backend(client, names=True),
    )  # fmt: skip

    async def counted():
        metrics = await daemon.http.metrics()
        return (
            metrics.total("netevd_lease_files_refused_total", reason="too_large") >= 1
            and metrics.total("netevd_lease_problems_total", kind="invalid") >= 1
            and metrics.total("netevd_lease_problems_total", kind="syntax") >= 1
        )

    await wait_until(counted, 15, message="the garbage counted")
    assert scripts.runs() == []
    assert (await daemon.http.data("/api/v1/status"))["sources"]["dhclient"] is True
    assert daemon.proc.running
