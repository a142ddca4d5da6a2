"""Full pictures read from the kernel over one rtnetlink socket (pyroute2's asyncio API)."""

from __future__ import annotations

from pyroute2 import AsyncIPRoute

from netevd.core.events import KernelSnapshot, RoutesSnapshot
from netevd.core.model import RTPROT_NETEVD, Route, Rule
from netevd.kernel.decode import decode_addr, decode_link, decode_route, decode_rule


async def dump(ipr: AsyncIPRoute, reason: str = "startup") -> KernelSnapshot:
    """A full picture: links, addresses, routes (both families, all tables) and rules."""
    links = [decode_link(m) async for m in await ipr.link("dump")]
    addrs = [a async for m in await ipr.addr("dump") if (a := decode_addr(m)) is not None]
    routes = [
        r async for m in await ipr.route("dump", family=0) if (r := decode_route(m)) is not None
    ]
    rules = [u async for m in await ipr.rule("dump") if (u := decode_rule(m)) is not None]
    return KernelSnapshot(tuple(links), tuple(addrs), tuple(routes), tuple(rules), reason)


async def dump_routes(ipr: AsyncIPRoute) -> RoutesSnapshot:
    routes = [
        r async for m in await ipr.route("dump", family=0) if (r := decode_route(m)) is not None
    ]
    return RoutesSnapshot(tuple(routes))


async def read_owned(ipr: AsyncIPRoute) -> tuple[list[Rule], list[Route]]:
    rules = [u async for m in await ipr.rule("dump") if (u := decode_rule(m)) is not None]
    routes = [
        r async for m in await ipr.route("dump", family=0) if (r := decode_route(m)) is not None
    ]
    return (
        [r for r in rules if r.protocol == RTPROT_NETEVD],
        [r for r in routes if r.protocol == RTPROT_NETEVD],
    )
