"""What is derived from the state for one link: its addresses, gateways, kernel-derived state."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netevd.core.model import AF_INET, AF_INET6, RT_TABLE_LOCAL, RT_TABLE_MAIN, RTN_UNICAST, Link
from netevd.core.state import State


@dataclass(frozen=True, slots=True)
class LinkView:
    link: Link
    addresses: tuple[str, ...]  # IPv4 then IPv6, link-local excluded, "addr/len"
    gateway: str
    gateway6: str
    kernel_state: str  # off | no-carrier | carrier | degraded | routable

    @property
    def carrier(self) -> bool:
        return self.link.carrier


def view(state: State, index: int) -> LinkView | None:
    link = state.links.get(index)
    if link is None:
        return None
    return LinkView(
        link=link,
        addresses=addresses(state, index),
        gateway=gateway(state, index, AF_INET),
        gateway6=gateway(state, index, AF_INET6),
        kernel_state=kernel_state(state, index),
    )


def _sort_key(cidr: str) -> tuple[int, int, int]:
    iface = ipaddress.ip_interface(cidr)
    return (iface.version, int(iface.ip), iface.network.prefixlen)


def addresses(state: State, index: int) -> tuple[str, ...]:
    found = [a.cidr() for a in state.link_addrs(index) if not a.link_local]
    return tuple(sorted(found, key=_sort_key))


def gateway(state: State, index: int, family: int) -> str:
    """The gateway of the main-table default route out of *index* (lowest metric), or ""."""
    best: tuple[int, str] | None = None
    for route in state.link_routes(index):
        if (
            route.family == family
            and route.table == RT_TABLE_MAIN
            and route.is_default
            and route.gateway
            and (best is None or route.priority < best[0])
        ):
            best = (route.priority, route.gateway)
    return best[1] if best else ""


def has_route_out(state: State, index: int, family: int) -> bool:
    """A unicast route of *family* out of *index*; fe80::/64 leads nowhere beyond the link."""
    return any(
        r.family == family
        and r.type == RTN_UNICAST
        and r.table != RT_TABLE_LOCAL
        and not r.dst.startswith("fe80:")
        for r in state.link_routes(index)
    )


def kernel_state(state: State, index: int) -> str:
    """An operational state derived from the kernel alone, shaped like networkd's."""
    link = state.links[index]
    if not link.admin_up:
        return "off"
    if not link.carrier:
        return "no-carrier"
    addrs = list(state.link_addrs(index))
    if any(a.routable and has_route_out(state, index, a.family) for a in addrs):
        return "routable"
    if addrs:
        return "degraded"
    return "carrier"
