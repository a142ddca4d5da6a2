"""DhclientSource in-process on the lease directory of the real dhclient 4.4.3, leasing from the
real dnsmasq in lab namespaces (no engine: an emit callback collects the events).

dnsmasq offers a router, two DNS servers, a domain, a host name, two search domains and a renewal
time of 4 s; dhclient renews that often but writes its lease file at most every 15 s
(MIN_LEASE_WRITE), so the deadlines here are generous. dhclient runs sandboxed
(lab.daemons.sandbox): what dhclient-script does to /etc and the host name stays in its own
namespaces, and each test checks the host's are untouched.
"""

import asyncio
import ipaddress
import time

import pytest

from lab import Topology
from lab.daemons.dhcp import DhclientClient, Dnsmasq6Server, DnsmasqServer, LabSubnet
from lab.daemons.sandbox import HostView
from lab.wait import wait_until
from netevd.core.dhcp.lease import parse_leases
from netevd.core.events import LeaseChanged, LeaseLost, SourceStatus
from netevd.sources.dhclient.source import DhclientSource

SUBNET = LabSubnet(81)


def topology(client_link: str = "eth0") -> Topology:
    t = Topology().add_netns("server").add_netns("client")
    t.add_veth("eth0", "server", client_link, "client", index=20, peer_index=21)
    return t.add_address("server", "eth0", f"{SUBNET.server}/24")


class Watch:
    """The source under test, running, and what it emitted."""

    def __init__(self, directory):
        self.events = []
        self.source = DhclientSource(self.events.append, directories=[str(directory)])
        self.task = asyncio.create_task(self.source.run())

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    async def until(self, predicate, timeout, what):
        return await wait_until(predicate, timeout, message=lambda: f"{what}: {self.events!r}")

    async def stop(self):
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def world(lab, tmp_path):
    """A dnsmasq server, a not yet started dhclient, and the source watching its directory."""
    host = HostView.take()
    built = await lab(topology())
    server = await built.start_process(
        DnsmasqServer(
            built.ns("server"), "eth0", tmp_path / "srv", pool=SUBNET.pool, **SUBNET.offer
        )
    )
    await server.wait_ready()
    client = DhclientClient(built.ns("client"), "eth0", tmp_path / "cli")
    watch = Watch(client.lease_dir)
    await watch.until(lambda: watch.of(SourceStatus), 10, "the source is up")
    yield built, server, client, watch
    await watch.stop()
    await client.stop()
    assert HostView.take() == host, "the host's /etc or host name changed"


async def test_a_lease_is_one_event_with_every_value(world):
    built, _, client, watch = world
    await built.start_process(client)
    bound = await client.wait_bound()
    await watch.until(lambda: watch.of(LeaseChanged), 15, "the lease")
    (status,) = watch.of(SourceStatus)
    assert status.up
    (changed,) = watch.of(LeaseChanged)
    lease = changed.lease
    assert changed.interface == "eth0"
    assert (changed.previous, changed.replay) == (None, False)
    assert (lease.family, lease.address, lease.subnet_mask, lease.prefixlen) == (
        4,
        bound,
        "255.255.255.0",
        24,
    )
    assert ipaddress.ip_address(SUBNET.pool[0]) <= ipaddress.ip_address(bound)
    assert ipaddress.ip_address(bound) <= ipaddress.ip_address(SUBNET.pool[1])
    assert lease.routers == (SUBNET.server,)
    assert lease.dns == SUBNET.dns
    assert lease.domain == "lab.test"
    assert lease.search == ("lab.test", "example.org")
    assert lease.host_name == "client-one"
    assert (lease.lease_time, lease.server) == (3600, SUBNET.server)
    assert abs(lease.expire - (time.time() + 3600)) < 30
    assert lease.renew < lease.rebind < lease.expire
    # dhclient-script did its work, in the sandbox only
    assert await client.sandbox_hostname() == "client-one"
    resolv = client.resolv_conf.read_text()
    assert all(f"nameserver {server}" in resolv for server in SUBNET.dns)
    assert watch.of(LeaseLost) == []


@pytest.mark.slow
async def test_renewal_new_address_and_release(world):
    built, server, client, watch = world
    await built.start_process(client)
    await watch.until(lambda: watch.of(LeaseChanged), 15, "the lease")
    first = watch.of(LeaseChanged)[0].lease
    path = str(client.lease_file)

    def renewal_read():  # the source has read a file holding a renewal block
        read = watch.source.files.get(path)
        return read is not None and len(read.leases) >= 2

    await watch.until(renewal_read, 45, "a renewal written and read")
    renewed = watch.source.files[path].leases[-1]
    assert renewed.expire > first.expire  # only the timers moved...
    assert len(watch.events) == 2  # ...so nothing was emitted

    await server.stop()  # the server is reconfigured: the renewal is NAKed, a new address
    moved = await built.start_process(server.with_pool(SUBNET.other_pool))
    await moved.wait_ready()
    await watch.until(lambda: len(watch.of(LeaseChanged)) == 2, 60, "the new address")
    second = watch.of(LeaseChanged)[1]
    assert second.previous == renewed or second.previous.expire >= renewed.expire
    assert SUBNET.other_pool[0] <= second.lease.address <= SUBNET.other_pool[1]
    assert second.lease.dns == SUBNET.dns
    assert watch.of(LeaseLost) == []

    output = await client.release()
    assert "DHCPRELEASE" in output
    await watch.until(lambda: watch.of(LeaseLost), 15, "the release")
    (lost,) = watch.of(LeaseLost)
    assert (lost.interface, lost.reason, lost.family) == ("eth0", "released", 4)
    assert lost.previous.address == second.lease.address
    final = parse_leases(client.lease_file.read_bytes()).leases[-1]
    assert final.renew == final.rebind == final.expire  # dhclient -r: "expired now"
    assert watch.source.current == {}


async def test_garbage_beside_the_real_lease_is_counted_and_never_emitted(world):
    built, _, client, watch = world
    directory = client.lease_dir
    (directory / "dhclient.eth1.leases").write_bytes(bytes(range(256)) * 16)
    with (directory / "dhclient.eth2.leases").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    hostile = 'lease {\n  interface "e$(reboot)";\n  fixed-address 10.0.0.9;\n  expire never;\n}\n'
    (directory / "dhclient-e$(reboot).leases").write_text(hostile)
    (directory / "dhclient.eth3.leases").write_text(hostile.replace("e$(reboot)", "eth3")[:40])
    counts = watch.source.counts
    await watch.until(
        lambda: counts["refused.too_large"] and counts["refused.incomplete"], 10, "refusals"
    )
    await built.start_process(client)
    await watch.until(lambda: watch.of(LeaseChanged), 15, "the real lease")
    assert [e.interface for e in watch.of(LeaseChanged)] == ["eth0"]
    assert counts["problems.invalid"] >= 1  # the hostile interface
    assert counts["problems.syntax"] >= 1  # the binary file
    assert not watch.task.done()


@pytest.mark.parametrize("name", ["e$(id);x", 'x";z"'])
async def test_the_real_dhclient_on_a_hostile_interface_name(lab, tmp_path, name):
    """Linux allows these names and dhclient writes them unescaped: no lease may come of it,
    least of all one for the link "x"."""
    host = HostView.take()
    built = await lab(topology(client_link=name))
    server = await built.start_process(
        DnsmasqServer(
            built.ns("server"), "eth0", tmp_path / "srv", pool=SUBNET.pool, **SUBNET.offer
        )
    )
    await server.wait_ready()
    client = DhclientClient(built.ns("client"), name, tmp_path / "cli")
    watch = Watch(client.lease_dir)
    try:
        await watch.until(lambda: watch.of(SourceStatus), 10, "the source is up")
        await built.start_process(client)
        await client.wait_bound()
        counts = watch.source.counts
        await watch.until(
            lambda: counts["problems.invalid"] + counts["problems.syntax"], 15, "the block refused"
        )
        assert f'interface "{name}";' in client.lease_file.read_text()
        assert watch.of(LeaseChanged) == []
    finally:
        await watch.stop()
        await client.stop()
    assert HostView.take() == host


async def test_a_dhcpv6_lease_and_its_release(lab, tmp_path):
    host = HostView.take()
    t = Topology().add_netns("server").add_netns("client")
    for ns in ("server", "client"):  # no duplicate address detection: no wait for link-local
        t.add_sysctl(ns, "net.ipv6.conf.default.accept_dad", 0)
    t.add_veth("eth0", "server", "eth0", "client", index=20, peer_index=21)
    built = await lab(t.add_address("server", "eth0", "fd00:231:81::1/64"))
    dns = ("fd00:231:81::53", "fd00:231:81::54")
    server = Dnsmasq6Server(
        built.ns("server"), "eth0", tmp_path / "srv", pool=("fd00:231:81::100", "fd00:231:81::1ff"),
        dns=dns, search=("lab.test",),
    )  # fmt: skip
    await built.start_process(server)
    await server.wait_ready()
    client = DhclientClient(built.ns("client"), "eth0", tmp_path / "cli", ipv6=True)
    watch = Watch(client.lease_dir)
    try:
        await watch.until(lambda: watch.of(SourceStatus), 10, "the source is up")
        await built.start_process(client)
        await watch.until(lambda: watch.of(LeaseChanged), 30, "the DHCPv6 lease")
        (changed,) = watch.of(LeaseChanged)
        lease = changed.lease
        assert (changed.interface, lease.family, lease.prefixlen) == ("eth0", 6, 128)
        assert ipaddress.IPv6Address(lease.address) in ipaddress.IPv6Network("fd00:231:81::/64")
        assert (lease.dns, lease.search, lease.lease_time) == (dns, ("lab.test",), 3600)
        addresses = await built.ip_json("client", "-6", "addr", "show", "dev", "eth0")
        assert lease.address in {a["local"] for e in addresses for a in e["addr_info"]}
        await client.release()
        await watch.until(lambda: watch.of(LeaseLost), 15, "the release")
        (lost,) = watch.of(LeaseLost)
        assert (lost.reason, lost.family, lost.previous.address) == ("released", 6, lease.address)
    finally:
        await watch.stop()
        await client.stop()
    assert HostView.take() == host
