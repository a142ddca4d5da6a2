"""What is derived from the state for one link: its addresses, gateways, kernel-derived state."""

from __future__ import annotations

from dataclasses import dataclass

from netevd.core.model import (
    AF_INET,
    AF_INET6,
    RT_TABLE_MAIN,
    Addr,
    Link,
)
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


def addresses(state: State, index: int) -> tuple[str, ...]:
    found = sorted((a for a in state.link_addrs(index) if not a.link_local), key=_key)
    return tuple(a.cidr() for a in found)


def _key(addr: Addr) -> tuple[int, int, int]:
    return addr.sort_key


def gateway(state: State, index: int, family: int) -> str:
    """The gateway of the main-table default route out of *index* (lowest metric), or "".
    From the state's default routes of the link, not its whole table."""
    best: tuple[int, str] | None = None
    for route in state.defaults.get(index, ()):
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
    """A unicast route of *family* out of *index* (state.leads_out), from the state's count."""
    return state.ways_out.get((index, family), 0) > 0


def kernel_state(state: State, index: int) -> str:
    """An operational state derived from the kernel alone, shaped like networkd's."""
    link = state.links[index]
    if not link.admin_up:
        return "off"
    if not link.carrier:
        return "no-carrier"
    checked: set[int] = set()
    for addr in state.link_addrs(index):  # stops at the first that settles it
        if addr.routable and addr.family not in checked:
            if has_route_out(state, index, addr.family):
                return "routable"
            checked.add(addr.family)
    if state.addrs.get(index):
        return "degraded"
    return "carrier"
