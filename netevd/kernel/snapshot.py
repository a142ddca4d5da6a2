"""Pictures of the kernel dumped over a raw request socket (netevd.kernel.rtnl) and decoded by
netevd.kernel.wire: the kernel source's full picture (links, addresses, the followed routes and
rules), and the routing executor's read of what netevd owns. One reader for the daemon and the
CLI: pyroute2's decoder is only the tests' oracle."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

from netevd.core.events import (
    AddressAdded,
    KernelSnapshot,
    LinkChanged,
    NeighbourChanged,
    RouteAdded,
    RuleAdded,
)
from netevd.core.follow import RouteFollow
from netevd.core.model import RTPROT_NETEVD, Addr, Link, Neigh, Route, Rule
from netevd.kernel import rtnl
from netevd.kernel.wire import Decoded

T = TypeVar("T")
RETRIES = 5  # dumps interrupted by changes in a row before the session gives up and restarts


async def dump(sock: socket.socket, follow: RouteFollow, reason: str = "startup") -> KernelSnapshot:
    """A full picture: links, addresses, routes (both families, all tables) and rules."""
    links = await _objects(sock, rtnl.RTM_GETLINK, _link)
    addrs = await _objects(sock, rtnl.RTM_GETADDR, _addr)
    routes = await dump_routes(sock, follow)
    rules = await _objects(sock, rtnl.RTM_GETRULE, _rule)
    return KernelSnapshot(tuple(links), tuple(addrs), routes, tuple(rules), reason)


async def dump_routes(sock: socket.socket, follow: RouteFollow) -> tuple[Route, ...]:
    """Every followed route, both families, every table."""
    routes = await _objects(sock, rtnl.RTM_GETROUTE, _route)
    if follow.everything:
        return tuple(routes)
    return tuple(r for r in routes if follow.keeps(r))


async def read_owned(sock: socket.socket) -> tuple[list[Rule], list[Route]]:
    """The rules and routes netevd owns (RTPROT_NETEVD), every family and table."""
    rules = await _objects(sock, rtnl.RTM_GETRULE, _rule)
    routes = await _objects(sock, rtnl.RTM_GETROUTE, _route)
    return (
        [r for r in rules if r.protocol == RTPROT_NETEVD],
        [r for r in routes if r.protocol == RTPROT_NETEVD],
    )


async def neighbours(sock: socket.socket) -> list[Neigh]:
    """Every neighbour entry (ARP and NDP), whoever made it."""
    return await _objects(sock, rtnl.RTM_GETNEIGH, _neigh)


async def routes_of(sock: socket.socket, family: int, table: int) -> list[Route]:
    """Every route of *family* in *table*, whoever owns it."""
    routes = await _objects(sock, rtnl.RTM_GETROUTE, _route, family)
    return [r for r in routes if r.table == table]


async def _objects(
    sock: socket.socket, kind: int, pick: Callable[[Decoded], T | None], family: int = 0
) -> list[T]:
    """The objects a dump of *kind* holds; what *pick* finds in each decoded message (a
    malformed message, or one netevd does not model, is skipped)."""
    for attempt in range(RETRIES):
        try:
            found: list[T] = []
            async for decoded in rtnl.dump(sock, kind, family):
                item = pick(decoded)
                if item is not None:
                    found.append(item)
            return found
        except rtnl.DumpInterrupted:
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _link(decoded: Decoded) -> Link | None:
    return decoded.link if isinstance(decoded, LinkChanged) else None


def _addr(decoded: Decoded) -> Addr | None:
    return decoded.addr if isinstance(decoded, AddressAdded) else None


def _route(decoded: Decoded) -> Route | None:
    return decoded.route if isinstance(decoded, RouteAdded) else None


def _neigh(decoded: Decoded) -> Neigh | None:
    return decoded.neigh if isinstance(decoded, NeighbourChanged) else None


def _rule(decoded: Decoded) -> Rule | None:
    return decoded.rule if isinstance(decoded, RuleAdded) else None
