"""The shipped topologies (``python -m lab up NAME``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial

from lab.errors import TopologyError
from lab.net.topology import Topology


def host_peer(
    host: Iterable[str] = (),
    peer: Iterable[str] = (),
    *,
    gateway: str | None = None,
    index: int = 10,
    peer_index: int = 11,
    link: str = "eth0",
    peer_link: str = "eth0",
    eth1: bool = False,
    host_eth1: Iterable[str] = (),
    peer_eth1: Iterable[str] = (),
    sysctls: Mapping[str, str] | None = None,
) -> Topology:
    """Namespaces ``host`` (where netevd runs) and ``peer``, joined by a veth pair::

        host: eth0 (ifindex 10) ──── eth0 (ifindex 11) :peer
        host: eth1 (ifindex 12) ──── eth1 (ifindex 13) :peer     (with eth1=True)

    *host* / *peer* are the addresses (``10.0.0.1/24``, ``fd00::1/64``) of the first pair's
    ends, *host_eth1* / *peer_eth1* the second pair's. *gateway* adds the host's default route
    (IPv4 or IPv6, by the address). *link* / *peer_link* rename the first pair's ends and
    *index* / *peer_index* set their ifindexes: keep those distinct where a test waits for
    no-carrier (the kernel reports carrier loss at most once a second for a veth whose ifindex
    equals its peer's). *sysctls* are set in both namespaces.
    """
    t = Topology().add_netns("host", sysctls=dict(sysctls or {}))
    t.add_netns("peer", sysctls=dict(sysctls or {}))
    t.add_veth(link, "host", peer_link, "peer", index=index, peer_index=peer_index)
    _add_addresses(t, "host", link, host)
    _add_addresses(t, "peer", peer_link, peer)
    if eth1:
        t.add_veth("eth1", "host", "eth1", "peer", index=12, peer_index=13)
        _add_addresses(t, "host", "eth1", host_eth1)
        _add_addresses(t, "peer", "eth1", peer_eth1)
    elif list(host_eth1) or list(peer_eth1):
        raise TopologyError("host_eth1/peer_eth1 addresses need the second pair (eth1=True)")
    if gateway is not None:
        t.add_route("host", "default6" if ":" in gateway else "default", via=gateway)
    return t


def _add_addresses(t: Topology, ns: str, link: str, addresses: Iterable[str]) -> None:
    for address in addresses:
        t.add_address(ns, link, address)


def multihomed() -> Topology:
    """A host with two uplinks and a client behind the second router: the broken return path.

    ::

        r1 (10.231.1.1) ── eth0 ┐                   ┌ eth1 ── client (10.231.3.2)
                                host ── eth1 ── r2 ─┘
                       (eth0 .1.2, eth1 .2.2)  (10.231.2.1, 10.231.3.1)

    Both uplinks have a default route, r1's preferred (metric 100 against 200), as DHCP on two
    NICs leaves them. A packet from the client reaches the host on eth1; without policy routing
    the reply leaves via eth0 and r1 drops it (r1 knows no way back).
    """
    t = Topology()
    t.add_netns(
        "host", sysctls={"net.ipv4.conf.all.rp_filter": "2", "net.ipv4.conf.default.rp_filter": "2"}
    )
    t.add_netns("r1", forwarding=True)
    t.add_netns("r2", forwarding=True)
    t.add_netns("client")
    t.add_veth("eth0", "host", "eth0", "r1", index=10, peer_index=11)
    t.add_veth("eth1", "host", "eth0", "r2", index=12, peer_index=13)
    t.add_veth("eth1", "r2", "eth0", "client", index=14, peer_index=15)
    for ns, link, v4, v6 in (
        ("host", "eth0", "10.231.1.2/24", "fd00:231:1::2/64"),
        ("r1", "eth0", "10.231.1.1/24", "fd00:231:1::1/64"),
        ("host", "eth1", "10.231.2.2/24", "fd00:231:2::2/64"),
        ("r2", "eth0", "10.231.2.1/24", "fd00:231:2::1/64"),
        ("r2", "eth1", "10.231.3.1/24", "fd00:231:3::1/64"),
        ("client", "eth0", "10.231.3.2/24", "fd00:231:3::2/64"),
    ):
        t.add_address(ns, link, v4)
        t.add_address(ns, link, v6)
    t.add_route("host", "default", via="10.231.1.1", metric=100)
    t.add_route("host", "default", via="10.231.2.1", metric=200)
    t.add_route("host", "default6", via="fd00:231:1::1", metric=100)
    t.add_route("host", "default6", via="fd00:231:2::1", metric=200)
    t.add_route("client", "default", via="10.231.3.1")
    t.add_route("client", "default6", via="fd00:231:3::1")
    return t


def dhcp() -> Topology:
    """A DHCP server namespace (dnsmasq listens on its eth0) and a client namespace."""
    t = Topology()
    t.add_netns("server")
    t.add_netns("client")
    t.add_veth("eth0", "server", "eth0", "client", index=20, peer_index=21)
    t.add_address("server", "eth0", "10.231.50.1/24")
    return t


DHCP_POOL = ("10.231.50.100", "10.231.50.150")
DHCP_ROUTER = "10.231.50.1"


def bridge() -> Topology:
    """A bridge in ``sw`` with two veth pairs into namespaces ``a`` and ``b``."""
    t = Topology()
    t.add_netns("sw")
    t.add_netns("a")
    t.add_netns("b")
    t.add_veth("pa", "sw", "eth0", "a", index=30, peer_index=31)
    t.add_veth("pb", "sw", "eth0", "b", index=32, peer_index=33)
    t.add_bridge("br0", "sw", ports=["pa", "pb"])
    t.add_address("sw", "br0", "10.231.60.1/24")
    t.add_address("a", "eth0", "10.231.60.2/24")
    t.add_address("b", "eth0", "10.231.60.3/24")
    t.add_address("a", "eth0", "fd00:231:60::2/64")
    t.add_address("b", "eth0", "fd00:231:60::3/64")
    return t


TOPOLOGIES: dict[str, Callable[[], Topology]] = {
    "host-peer": partial(
        host_peer, ["10.231.9.1/24"], ["10.231.9.2/24"], gateway="10.231.9.2", eth1=True
    ),
    "multihomed": multihomed,
    "dhcp": dhcp,
    "bridge": bridge,
}
