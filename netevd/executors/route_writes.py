"""Writes of netevd's own rules and routes to the kernel (pyroute2's request builder).

Imported by the routing executor at its first change to make, never at start: reads go through
netevd.kernel (the raw reader), and a daemon without policy routing never loads pyroute2.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netevd.core.model import RTPROT_NETEVD, Route, Rule


def _split(prefix: str) -> tuple[str, int]:
    address, _, length = prefix.partition("/")
    return address, int(length)


def rule_spec(rule: Rule) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "family": rule.family,
        "priority": rule.priority,
        "table": rule.table,
        "protocol": RTPROT_NETEVD,
    }
    if rule.src:
        spec["src"], spec["src_len"] = _split(rule.src)
    if rule.dst:
        spec["dst"], spec["dst_len"] = _split(rule.dst)
    return spec


def route_spec(route: Route) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "family": route.family,
        "dst": route.dst,
        "table": route.table,
        "oif": route.oif,
        "proto": RTPROT_NETEVD,
        "scope": route.scope,
    }
    if route.gateway:
        spec["gateway"] = route.gateway
    if route.prefsrc:
        spec["prefsrc"] = route.prefsrc
    if route.priority:
        spec["priority"] = route.priority
    return spec


class KernelWriter:
    """One rtnetlink socket for a reconcile's writes; each write answers the kernel's errno
    (0: done). OSError when the socket itself fails."""

    def __init__(self) -> None:
        self._ipr = AsyncIPRoute(flags=0)

    async def __aenter__(self) -> KernelWriter:
        await self._ipr.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._ipr.__aexit__(kind, exc, tb)

    async def write(self, command: str, obj: Rule | Route) -> int:
        """``add`` or ``del`` *obj*; the kernel's error code, 0 on success."""
        try:
            if isinstance(obj, Rule):
                await self._ipr.rule(command, **rule_spec(obj))
            else:
                await self._ipr.route(command, **route_spec(obj))
        except NetlinkError as exc:
            return int(exc.code)
        return 0
