"""Record lease files written by the real ISC dhclient, as test data for the parser's tests.

Run as root from the repository root: ``.venv/bin/python tests/unit/data/dhclient/record.py
[OUT]`` (OUT defaults to a new temporary directory; the files here were made this way, with
the addresses 10.231.99.x and fd00:231:99::x, and the unit tests name their values). It takes
about a minute: dhclient writes a renewal at most every 15 s.

- ``renewals.leases``: a bind and renewals (dnsmasq offers a router, two DNS servers, a domain,
  domain-search, a host name and a renewal time of 4 s)
- ``new-address.leases``: dnsmasq restarted with another range; the renewal is NAKed and
  dhclient binds a new address
- ``released.leases``: after ``dhclient -r``
- ``dhclient6.leases`` / ``dhclient6-released.leases``: ``dhclient -6`` from dnsmasq's DHCPv6
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from lab import Lab, Topology
from lab.daemons.dhcp import DhclientClient, Dnsmasq6Server, DnsmasqServer
from lab.wait import wait_until

NET = "10.231.99"
OFFER = {
    "router": f"{NET}.1",
    "dns": (f"{NET}.53", f"{NET}.54"),
    "domain": "lab.test",
    "host_name": "client-one",
    "search": ("lab.test", "example.org"),
    "renewal": 4,
}


def topology() -> Topology:
    t = Topology().add_netns("server").add_netns("client")
    t.add_veth("eth0", "server", "eth0", "client", index=30, peer_index=31)
    t.add_address("server", "eth0", f"{NET}.1/24").add_address(
        "server", "eth0", "fd00:231:99::1/64"
    )
    return t


def text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def blocks(path: Path) -> int:
    return text(path).count("lease {")


async def record_v4(lab: Lab, work: Path, out: Path) -> None:
    server = DnsmasqServer(
        lab.ns("server"), "eth0", work / "srv", pool=(f"{NET}.100", f"{NET}.150"), **OFFER
    )
    await lab.start_process(server)
    await server.wait_ready()
    client = await lab.start_process(DhclientClient(lab.ns("client"), "eth0", work / "cli"))
    await client.wait_bound()
    await wait_until(lambda: blocks(client.lease_file) >= 4, 90, message="four blocks")
    shutil.copy(client.lease_file, out / "renewals.leases")
    await server.stop()
    moved = await lab.start_process(server.with_pool((f"{NET}.200", f"{NET}.220")))
    await moved.wait_ready()
    await wait_until(
        lambda: f"fixed-address {NET}.2" in text(client.lease_file), 90, message="moved"
    )
    shutil.copy(client.lease_file, out / "new-address.leases")
    await client.release()
    shutil.copy(client.lease_file, out / "released.leases")


async def record_v6(lab: Lab, work: Path, out: Path) -> None:
    server = Dnsmasq6Server(
        lab.ns("server"),
        "eth0",
        work / "srv6",
        pool=("fd00:231:99::100", "fd00:231:99::1ff"),
        dns=("fd00:231:99::53", "fd00:231:99::54"),
        search=("lab.test", "example.org"),
    )
    await lab.start_process(server)
    await server.wait_ready()
    client = DhclientClient(lab.ns("client"), "eth0", work / "cli6", ipv6=True)
    await lab.start_process(client)
    await wait_until(lambda: "iaaddr" in text(client.lease_file), 30, message="v6 lease")
    shutil.copy(client.lease_file, out / "dhclient6.leases")
    await client.release()
    shutil.copy(client.lease_file, out / "dhclient6-released.leases")


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        async with Lab(topology()) as lab:
            await record_v4(lab, Path(work), out)
            await record_v6(lab, Path(work), out)
    print(f"recorded into {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())))
