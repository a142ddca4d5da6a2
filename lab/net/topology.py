"""Topology: a pure description of a lab network (namespaces, links, addresses, routes, sysctls).

Nothing here touches the system; :class:`lab.net.build.Lab` turns a Topology into kernel objects.
Names are logical: the Lab prefixes namespace names (and root-namespace link names) with its
per-run prefix, so one Topology can be built many times in parallel.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from lab.errors import TopologyError
from lab.net.naming import link_name_problem, sysctl_key_problem

ROOT = ""
"""The root (host) namespace. Links go there only when a caller passes ``root_ok=True``."""

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_IFINDEX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Link:
    """A link the lab creates: a veth end, a bridge, or another simple kind."""

    name: str
    ns: str
    kind: str
    index: int | None = None
    up: bool = True
    peer: str | None = None  # for veth: the other end's name
    peer_ns: str | None = None


@dataclass(frozen=True, slots=True)
class Port:
    bridge: str
    ns: str
    link: str


@dataclass(frozen=True, slots=True)
class Address:
    ns: str
    link: str
    interface: IPInterface


@dataclass(frozen=True, slots=True)
class Route:
    ns: str
    dst: IPNetwork
    via: IPAddress | None = None
    dev: str | None = None
    table: int | None = None
    metric: int | None = None


@dataclass(frozen=True, slots=True)
class Sysctl:
    ns: str
    key: str
    value: str


@dataclass
class Topology:
    """A network to build. Every ``add_*`` validates at once and returns ``self``."""

    namespaces: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    sysctls: list[Sysctl] = field(default_factory=list)

    # -- namespaces -------------------------------------------------------------------------

    def add_netns(
        self, name: str, *, forwarding: bool = False, sysctls: dict[str, str] | None = None
    ) -> Topology:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise TopologyError(f"namespace name {name!r} must be letters, digits, '-' or '_'")
        if name in self.namespaces:
            raise TopologyError(f"duplicate namespace {name!r}")
        self.namespaces.append(name)
        if forwarding:
            self.add_sysctl(name, "net.ipv4.ip_forward", "1")
            self.add_sysctl(name, "net.ipv6.conf.all.forwarding", "1")
        for key, value in (sysctls or {}).items():
            self.add_sysctl(name, key, value)
        return self

    def add_sysctl(self, ns: str, key: str, value: str | int) -> Topology:
        self._check_ns(ns)
        problem = sysctl_key_problem(key)
        if problem:
            raise TopologyError(problem)
        self.sysctls.append(Sysctl(ns, key, str(value)))
        return self

    # -- links ------------------------------------------------------------------------------

    def add_veth(
        self,
        name: str,
        ns: str,
        peer: str,
        peer_ns: str,
        *,
        index: int | None = None,
        peer_index: int | None = None,
        up: bool = True,
        peer_up: bool = True,
        root_ok: bool = False,
    ) -> Topology:
        """A veth pair: *name* in *ns*, *peer* in *peer_ns*."""
        self._check_new_link(name, ns, index, root_ok)
        if (peer, peer_ns) == (name, ns):
            raise TopologyError(f"veth {name!r} cannot be its own peer")
        self._check_new_link(peer, peer_ns, peer_index, root_ok)
        if index is not None and index == peer_index and ns == peer_ns:
            raise TopologyError(f"ifindex {index} used twice in namespace {ns!r}")
        self.links.append(Link(name, ns, "veth", index, up, peer, peer_ns))
        self.links.append(Link(peer, peer_ns, "veth", peer_index, peer_up, name, ns))
        return self

    def add_bridge(
        self,
        name: str,
        ns: str,
        *,
        ports: tuple[str, ...] | list[str] = (),
        index: int | None = None,
        up: bool = True,
        root_ok: bool = False,
    ) -> Topology:
        self._check_new_link(name, ns, index, root_ok)
        self.links.append(Link(name, ns, "bridge", index, up))
        for port in ports:
            self.add_port(name, ns, port)
        return self

    def add_link(
        self,
        name: str,
        ns: str,
        kind: str,
        *,
        index: int | None = None,
        up: bool = True,
        root_ok: bool = False,
    ) -> Topology:
        """A link of a kind that needs no parameters (``dummy``, ``ifb``, ...)."""
        if kind == "veth":
            raise TopologyError("use add_veth for veth pairs")
        self._check_new_link(name, ns, index, root_ok)
        self.links.append(Link(name, ns, kind, index, up))
        return self

    def add_port(self, bridge: str, ns: str, link: str) -> Topology:
        if self._link(bridge, ns).kind != "bridge":
            raise TopologyError(f"link {bridge!r} in namespace {ns!r} is not a bridge")
        self._link(link, ns)
        if any(p.ns == ns and p.link == link for p in self.ports):
            raise TopologyError(f"link {link!r} in namespace {ns!r} is already a bridge port")
        self.ports.append(Port(bridge, ns, link))
        return self

    # -- layer 3 ----------------------------------------------------------------------------

    def add_address(self, ns: str, link: str, cidr: str) -> Topology:
        self._link(link, ns)
        try:
            iface = ipaddress.ip_interface(cidr)
        except ValueError:
            raise TopologyError(
                f"address {cidr!r} on {ns}/{link} is not an IP interface (want ADDR/PREFIX)"
            ) from None
        if "/" not in cidr:
            raise TopologyError(f"address {cidr!r} on {ns}/{link} needs a prefix length")
        if any(a.ns == ns and a.interface.ip == iface.ip for a in self.addresses):
            raise TopologyError(f"duplicate address {iface.ip} in namespace {ns!r}")
        self.addresses.append(Address(ns, link, iface))
        return self

    def add_route(
        self,
        ns: str,
        dst: str,
        *,
        via: str | None = None,
        dev: str | None = None,
        table: int | None = None,
        metric: int | None = None,
    ) -> Topology:
        """A route; *dst* is a prefix, or ``default`` / ``default6`` (or any prefix with *via*)."""
        self._check_ns(ns)
        if ns == ROOT:
            raise TopologyError("the lab never adds routes to the root namespace")
        gateway = _parse_gateway(ns, dst, via)
        network = _parse_dst(ns, dst, gateway)
        if gateway is not None and gateway.version != network.version:
            raise TopologyError(f"route {dst} in {ns!r}: gateway {via} is of another family")
        if dev is not None:
            self._link(dev, ns)
        if gateway is None and dev is None:
            raise TopologyError(f"route {dst} in {ns!r} needs via= or dev=")
        if table is not None and not 1 <= table <= 2**32 - 1:
            raise TopologyError(f"route {dst} in {ns!r}: table {table} is out of range")
        self.routes.append(Route(ns, network, gateway, dev, table, metric))
        return self

    # -- queries ----------------------------------------------------------------------------

    def link(self, name: str, ns: str) -> Link:
        return self._link(name, ns)

    def root_links(self) -> list[Link]:
        return [link for link in self.links if link.ns == ROOT]

    # -- checks -----------------------------------------------------------------------------

    def _check_ns(self, ns: str) -> None:
        if ns != ROOT and ns not in self.namespaces:
            raise TopologyError(f"unknown namespace {ns!r} (declare it with add_netns first)")

    def _check_new_link(self, name: str, ns: str, index: int | None, root_ok: bool) -> None:
        self._check_ns(ns)
        if ns == ROOT and not root_ok:
            raise TopologyError(
                f"link {name!r} would be created in the root namespace; "
                "pass root_ok=True to allow it"
            )
        problem = link_name_problem(name)
        if problem:
            raise TopologyError(problem)
        if any(link.ns == ns and link.name == name for link in self.links):
            raise TopologyError(f"duplicate link {name!r} in namespace {ns!r}")
        if index is not None:
            if not 2 <= index <= MAX_IFINDEX:
                raise TopologyError(f"ifindex {index} for {name!r} must be 2..{MAX_IFINDEX}")
            if any(link.ns == ns and link.index == index for link in self.links):
                raise TopologyError(f"ifindex {index} used twice in namespace {ns!r}")

    def _link(self, name: str, ns: str) -> Link:
        self._check_ns(ns)
        for link in self.links:
            if link.ns == ns and link.name == name:
                return link
        raise TopologyError(f"unknown link {name!r} in namespace {ns!r}")


def _parse_gateway(ns: str, dst: str, via: str | None) -> IPAddress | None:
    if via is None:
        return None
    try:
        return ipaddress.ip_address(via)
    except ValueError:
        raise TopologyError(
            f"route {dst} in {ns!r}: gateway {via!r} is not an IP address"
        ) from None


def _parse_dst(ns: str, dst: str, gateway: IPAddress | None) -> IPNetwork:
    if dst == "default6" or (dst == "default" and gateway is not None and gateway.version == 6):
        return ipaddress.IPv6Network("::/0")
    if dst == "default":
        return ipaddress.IPv4Network("0.0.0.0/0")
    try:
        return ipaddress.ip_network(dst)
    except ValueError:
        raise TopologyError(
            f"route destination {dst!r} in {ns!r} is not a prefix (want NET/LEN, "
            "'default' or 'default6', with host bits zero)"
        ) from None
