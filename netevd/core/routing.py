"""Per-interface policy routing, as a pure plan (design.md §6).

For each interface in ``routing.policy_rules`` and each of its global addresses: a rule
``from ADDR lookup T`` (and ``to ADDR lookup T`` unless ``routing.to_rules`` is off); in table T
the interface's on-link prefixes and a default route via its gateway, per family. What netevd
installs carries protocol RTPROT_NETEVD, so the diff only ever touches netevd's own objects.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from netevd.core.config import Config
from netevd.core.environment import link_name_problem
from netevd.core.model import (
    AF_INET,
    AF_INET6,
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    RTPROT_NETEVD,
    Addr,
    Link,
    Route,
    Rule,
)
from netevd.core.state import State
from netevd.core.views import gateway

RESERVED_TABLES = frozenset({0, 253, 254, 255})  # unspec, default, main, local
MAX_TABLE = 2**32 - 1
IPV6_DEFAULT_METRIC = 1024  # what the kernel reports for an IPv6 route added without one

T = TypeVar("T")
RouteId = tuple[int, int, str, str, int]
RuleId = tuple[int, int, int, str, str]


def route_id(route: Route) -> RouteId:
    return (route.family, route.table, route.dst, route.gateway, route.oif)


def rule_id(rule: Rule) -> RuleId:
    return (rule.family, rule.priority, rule.table, rule.src, rule.dst)


def is_policy_link(name: str, config: Config) -> bool:
    return link_name_problem(name) is None and any(
        fnmatch.fnmatchcase(name, pattern) for pattern in config.routing.policy_rules
    )


def policy_links(state: State, config: Config) -> list[Link]:
    if not config.routing.policy_rules:
        return []
    found = [link for link in state.links.values() if is_policy_link(link.name, config)]
    return sorted(found, key=lambda link: link.name)


def foreign_tables(state: State) -> set[int]:
    """Tables holding routes netevd does not own: never to be used."""
    return {r.table for r in state.all_routes() if r.protocol != RTPROT_NETEVD}


def allocate_tables(state: State, config: Config) -> dict[str, int]:
    """The table of every policy interface: pinned, else kept from before (state.tables, as
    persisted) unless it is now reserved or foreign, else ``table_base + ifindex``, moved on
    past reserved and foreign tables."""
    pinned = dict(config.routing.tables)
    taken = set(pinned.values())
    avoid = foreign_tables(state) | RESERVED_TABLES
    result: dict[str, int] = {}
    for link in policy_links(state, config):
        remembered = state.tables.get(link.name)
        if remembered in avoid:
            # A remembered table now holding someone else's routes (or reserved) is given up:
            # installing into it would mix netevd's default route with a foreign one.
            remembered = None
        table = pinned.get(link.name) or remembered
        if table is None or (table in taken and link.name not in pinned):
            table = config.routing.table_base + link.index
            while table in avoid or table in taken or table in result.values():
                table += 1
        result[link.name] = table
        taken.add(table)
    return result


@dataclass(frozen=True, slots=True)
class Plan:
    rules: frozenset[Rule]
    routes: frozenset[Route]


def desired(state: State, config: Config, tables: Mapping[str, int]) -> Plan:
    rules: set[Rule] = set()
    routes: set[Route] = set()
    for link in policy_links(state, config):
        table = tables.get(link.name)
        if table is None:
            continue
        addrs = sorted((a for a in state.link_addrs(link.index) if a.routable), key=_order)
        prefixes: dict[tuple[int, str], Route] = {}
        for addr in addrs:
            rules |= _rules_for(addr, table, config)
            for prefix in _prefix_route(addr, table):
                prefixes.setdefault((prefix.family, prefix.dst), prefix)  # first address wins
        routes |= set(prefixes.values())
        for family in {a.family for a in addrs}:
            routes |= _default_route(state, link.index, family, table)
    return Plan(frozenset(rules), frozenset(routes))


def _order(addr: Addr) -> tuple[int, int, int]:
    return addr.sort_key


def _host(addr: Addr) -> str:
    return f"{addr.address}/{32 if addr.family == AF_INET else 128}"


def _rules_for(addr: Addr, table: int, config: Config) -> set[Rule]:
    priority = config.routing.priority
    found = {Rule(addr.family, priority, table, src=_host(addr), protocol=RTPROT_NETEVD)}
    if config.routing.to_rules:
        found.add(Rule(addr.family, priority + 1, table, dst=_host(addr), protocol=RTPROT_NETEVD))
    return found


def _prefix_route(addr: Addr, table: int) -> set[Route]:
    network = ipaddress.ip_interface(addr.cidr()).network
    if network.prefixlen == network.max_prefixlen:
        return set()
    if addr.family == AF_INET:
        return {
            Route(
                AF_INET,
                table,
                str(network),
                oif=addr.index,
                protocol=RTPROT_NETEVD,
                scope=RT_SCOPE_LINK,
                prefsrc=addr.address,
            )
        }
    return {
        Route(
            AF_INET6,
            table,
            str(network),
            oif=addr.index,
            protocol=RTPROT_NETEVD,
            priority=IPV6_DEFAULT_METRIC,
        )
    }


def _gateway(state: State, index: int, family: int) -> str:
    """The kernel's default gateway out of the link; for IPv4, when the kernel shows none, the
    first router of the link's dhclient lease."""
    via = gateway(state, index, family)
    link = state.links.get(index)
    if via or family != AF_INET or link is None:
        return via
    lease = state.leases.get((link.name, 4))
    return lease.routers[0] if lease is not None and lease.routers else ""


def _default_route(state: State, index: int, family: int, table: int) -> set[Route]:
    via = _gateway(state, index, family)
    if not via:
        return set()  # rules and prefix routes now; the default route when a gateway shows up
    dst = "0.0.0.0/0" if family == AF_INET else "::/0"
    metric = 0 if family == AF_INET else IPV6_DEFAULT_METRIC
    return {
        Route(
            family,
            table,
            dst,
            gateway=via,
            oif=index,
            protocol=RTPROT_NETEVD,
            scope=RT_SCOPE_UNIVERSE,
            priority=metric,
        )
    }


@dataclass(frozen=True, slots=True)
class Changes:
    add_rules: tuple[Rule, ...] = ()
    del_rules: tuple[Rule, ...] = ()
    add_routes: tuple[Route, ...] = ()
    del_routes: tuple[Route, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.add_rules or self.del_rules or self.add_routes or self.del_routes)


def owned_rules(rules: Iterable[Rule]) -> list[Rule]:
    return [r for r in rules if r.protocol == RTPROT_NETEVD]


def owned_routes(routes: Iterable[Route]) -> list[Route]:
    return [r for r in routes if r.protocol == RTPROT_NETEVD]


def diff(plan: Plan, rules: Iterable[Rule], routes: Iterable[Route]) -> Changes:
    """What to add and remove so that netevd's objects among *rules*/*routes* become *plan*.

    Objects not tagged RTPROT_NETEVD are ignored: they are never removed or adopted."""
    have_rules = {rule_id(r): r for r in owned_rules(rules)}
    have_routes = {route_id(r): r for r in owned_routes(routes)}
    want_rules = {rule_id(r): r for r in plan.rules}
    want_routes = {route_id(r): r for r in plan.routes}
    return Changes(
        add_rules=tuple(_sorted(r for k, r in want_rules.items() if k not in have_rules)),
        del_rules=tuple(_sorted(r for k, r in have_rules.items() if k not in want_rules)),
        add_routes=tuple(_sorted(r for k, r in want_routes.items() if k not in have_routes)),
        del_routes=tuple(_sorted(r for k, r in have_routes.items() if k not in want_routes)),
    )


def _sorted(items: Iterable[T]) -> list[T]:
    return sorted(items, key=repr)
