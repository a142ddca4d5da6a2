"""Kernel objects as the core sees them: links, addresses, routes, rules (frozen, hashable); and
the DHCP lease a dhclient source reports (netevd.core.dhcp.lease parses it)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

AF_INET = 2
AF_INET6 = 10
FAMILY_WORDS = {AF_INET: "inet", AF_INET6: "inet6"}  # the FAMILY scripts see

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_LOWER_UP = 0x10000

RT_SCOPE_UNIVERSE = 0
RT_SCOPE_SITE = 200
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254

RT_TABLE_UNSPEC = 0
RT_TABLE_DEFAULT = 253
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255

RTN_UNICAST = 1

# The protocol number on every rule (FRA_PROTOCOL) and route (rtm_protocol) netevd installs:
# how it recognises its own objects and leaves everything else alone. Unassigned in
# rtnetlink.h and /etc/iproute2/rt_protos.
RTPROT_NETEVD = 78

FLAG_NAMES = {
    0x1: "UP",
    0x2: "BROADCAST",
    0x8: "LOOPBACK",
    0x10: "POINTOPOINT",
    0x40: "RUNNING",
    0x80: "NOARP",
    0x100: "PROMISC",
    0x1000: "MULTICAST",
    0x10000: "LOWER_UP",
    0x20000: "DORMANT",
}


@dataclass(frozen=True, slots=True)
class Link:
    index: int
    name: str
    flags: int = 0
    mtu: int = 0
    mac: str = ""
    operstate: str = "UNKNOWN"  # the kernel's IFLA_OPERSTATE (UP, DOWN, LOWERLAYERDOWN, ...)
    kind: str = ""  # veth, bridge, ... ("" for plain devices)
    master: int = 0

    @property
    def carrier(self) -> bool:
        return bool(self.flags & IFF_LOWER_UP)

    @property
    def admin_up(self) -> bool:
        return bool(self.flags & IFF_UP)

    def flag_names(self) -> list[str]:
        return [name for bit, name in FLAG_NAMES.items() if self.flags & bit]


@dataclass(frozen=True, slots=True)
class Addr:
    index: int
    family: int
    address: str  # the local address, without prefix
    prefixlen: int
    scope: int = RT_SCOPE_UNIVERSE
    flags: int = 0
    # Derived once from the address text: a link with thousands of addresses is looked at on
    # every event, and parsing each address each time made storms quadratic.
    sort_key: tuple[int, int, int] = field(init=False, repr=False, compare=False)
    link_local: bool = field(init=False, repr=False, compare=False)
    routable: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ip = ipaddress.ip_address(self.address)
        link_local = ip.is_link_local or self.scope >= RT_SCOPE_LINK
        object.__setattr__(self, "sort_key", (ip.version, int(ip), self.prefixlen))
        object.__setattr__(self, "link_local", link_local)
        # A global address: not link-local, not host-scoped, not loopback.
        object.__setattr__(
            self,
            "routable",
            self.scope == RT_SCOPE_UNIVERSE and not link_local and not ip.is_loopback,
        )

    @property
    def key(self) -> tuple[str, int]:
        return (self.address, self.prefixlen)

    def cidr(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True, slots=True)
class Route:
    family: int
    table: int
    dst: str  # "a.b.c.d/len" or "::/0"; default routes are 0.0.0.0/0 and ::/0
    gateway: str = ""
    oif: int = 0
    protocol: int = 0
    scope: int = RT_SCOPE_UNIVERSE
    type: int = RTN_UNICAST
    priority: int = 0  # the metric
    prefsrc: str = ""
    tos: int = 0

    @property
    def key(self) -> tuple[object, ...]:
        """The kernel's identity of a route: what a replace overwrites and a delete names."""
        if self.family == AF_INET:
            return (self.family, self.table, self.dst, self.tos, self.priority)
        return (self.family, self.table, self.dst, self.priority, self.oif, self.gateway)

    @property
    def is_default(self) -> bool:
        return self.dst in ("0.0.0.0/0", "::/0")


# Neighbour entries (ARP / NDP): NUD states (ndm_state bits) and the "managed" extended flag,
# which makes the kernel keep the entry resolved with its own probes (Linux >= 5.16).
NUD_STATES = {
    0x01: "incomplete",
    0x02: "reachable",
    0x04: "stale",
    0x08: "delay",
    0x10: "probe",
    0x20: "failed",
    0x40: "noarp",
    0x80: "permanent",
    0x00: "none",
}
NUD_REACHABLE = 0x02
NUD_FAILED = 0x20
NTF_EXT_MANAGED = 0x1


@dataclass(frozen=True, slots=True)
class Neigh:
    """A neighbour entry (RTM_NEWNEIGH): an address on a link and what the kernel knows of it."""

    index: int
    family: int
    address: str
    state: int = 0  # ndm_state (NUD_*)
    lladdr: str = ""  # absent while unresolved or FAILED
    protocol: int = 0  # NDA_PROTOCOL: who made the entry (RTPROT_NETEVD for netevd's own)
    ext_flags: int = 0  # NDA_FLAGS_EXT (NTF_EXT_MANAGED)

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.index, self.family, self.address)

    @property
    def state_name(self) -> str:
        return NUD_STATES.get(self.state, str(self.state))


@dataclass(frozen=True, slots=True)
class Rule:
    family: int
    priority: int
    table: int
    src: str = ""  # "addr/len" or ""
    dst: str = ""
    iif: str = ""
    oif: str = ""
    fwmark: int = 0
    fwmask: int = 0
    protocol: int = 0
    action: int = 1  # FR_ACT_TO_TBL
    suppress_prefixlen: int = -1

    @property
    def key(self) -> Rule:
        return self


@dataclass(frozen=True, slots=True)
class Lease:
    """One lease block, validated. Times are epoch seconds (UTC); None means never/absent."""

    interface: str
    family: Literal[4, 6]
    address: str | None  # None only for a DHCPv6 lease that delegates prefixes only
    prefixlen: int | None = None  # IPv4: from the subnet mask; IPv6: 128 (as dhclient-script)
    subnet_mask: str | None = None
    routers: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    domain: str | None = None  # option domain-name: one or more names, space-separated
    search: tuple[str, ...] = ()  # option domain-search (119), trailing dots dropped
    host_name: str | None = None
    lease_time: int | None = None  # IPv4: dhcp-lease-time; IPv6: the address's max-life
    server: str | None = None  # IPv4: dhcp-server-identifier
    broadcast: str | None = None
    mtu: int | None = None
    prefixes: tuple[str, ...] = ()  # DHCPv6 delegated prefixes (ia-pd)
    renew: int | None = None
    rebind: int | None = None
    expire: int | None = None  # None: never expires
    released: bool = False  # dhclient6 marked the lease released
    line: int = field(default=0, compare=False)  # where the block starts, for messages
