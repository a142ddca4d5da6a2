"""The JSON documents the API serves, built from the published State and the event log (pure).

Field names follow ``ip -j`` where one exists (ifname aside: ``name``), numbers stay numbers,
and every kernel enum is given both as the number and, where iproute2 has one, as its name.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from netevd import __version__
from netevd.core.config import MonitoringConfig
from netevd.core.filters import monitored
from netevd.core.follow import RouteFollow
from netevd.core.liveness_view import gateway_liveness, link_reachable
from netevd.core.model import AF_INET, Addr, Link, Route, Rule
from netevd.core.scripts import ScriptVerdict
from netevd.core.state import State
from netevd.core.trees import Tree
from netevd.core.views import view
from netevd.telemetry.eventlog import EventLog, EventRecord

Document = dict[str, Any]

LINK_EVENTS = 5  # events shown with each interface

FAMILIES = {AF_INET: "inet", 10: "inet6"}
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
TABLES = {253: "default", 254: "main", 255: "local"}
ROUTE_TYPES = {
    0: "unspec",
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
}
RULE_ACTIONS = {1: "lookup", 2: "goto", 3: "nop", 6: "blackhole", 7: "unreachable", 8: "prohibit"}
PROTOCOLS = {
    0: "unspec",
    1: "redirect",
    2: "kernel",
    3: "boot",
    4: "static",
    8: "gated",
    9: "ra",
    10: "mrt",
    11: "zebra",
    12: "bird",
    13: "dnrouted",
    14: "xorp",
    15: "ntk",
    16: "dhcp",
    18: "keepalived",
    42: "babel",
    78: "netevd",
    99: "openr",
    186: "bgp",
    187: "isis",
    188: "ospf",
    189: "rip",
    192: "eigrp",
}


def iso(ts: float) -> str:
    """RFC 3339 in UTC with milliseconds."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(time.time())


def _or_none(value: str) -> str | None:
    return value or None


def addr_document(addr: Addr) -> Document:
    return {
        "address": addr.address,
        "prefixlen": addr.prefixlen,
        "family": FAMILIES.get(addr.family, str(addr.family)),
        "scope": SCOPES.get(addr.scope, str(addr.scope)),
        "link_local": addr.link_local,
    }


def link_document(
    state: State,
    link: Link,
    *,
    table: int | None,
    events: Iterable[EventRecord],
    is_monitored: bool,
) -> Document:
    derived = view(state, link.index)
    addrs = sorted(state.link_addrs(link.index), key=lambda a: (a.family, a.address, a.prefixlen))
    return {
        "ifindex": link.index,
        "name": link.name,
        "kind": link.kind or None,
        "mac": link.mac or None,
        "mtu": link.mtu,
        "flags": link.flag_names(),
        "carrier": link.carrier,
        "admin_up": link.admin_up,
        "operstate": link.operstate,
        "kernel_state": derived.kernel_state if derived else "off",
        "master": link.master or None,
        "monitored": is_monitored,
        "addresses": [addr_document(a) for a in addrs],
        "gateway": _or_none(derived.gateway) if derived else None,
        "gateway6": _or_none(derived.gateway6) if derived else None,
        # From netevd's managed entries (monitoring.gateway_liveness); None: unknown or off.
        "gateway_reachable": link_reachable(state, link.index),
        "table": table,
        "backends": backends(state, link.index),
        "events": [event_document(r.to_dict()) for r in events],
    }


def links_documents(
    state: State,
    log: EventLog,
    tables: Mapping[int, int],
    monitoring: MonitoringConfig,
    only: Link | None = None,
) -> list[Document]:
    """Every link (or *only* one), ordered by ifindex, each with its last few events."""
    links = [only] if only is not None else sorted(state.links.values(), key=lambda k: k.index)
    recent = recent_events(log, {link.index for link in links})
    return [
        link_document(
            state,
            link,
            table=tables.get(link.index),
            events=recent.get(link.index, ()),
            is_monitored=monitored(link.name, monitoring),
        )
        for link in links
    ]


def backends(state: State, index: int) -> dict[str, dict[str, str]]:
    """What each network manager reports for the link (networkd: OperationalState, ...)."""
    return {
        source: dict(links[index])
        for source, links in sorted(state.managed.items())
        if index in links
    }


def recent_events(log: EventLog, indexes: set[int]) -> dict[int, deque[EventRecord]]:
    """The last LINK_EVENTS records of each link, in one pass over the ring buffer."""
    found: dict[int, deque[EventRecord]] = {}
    for record in log.query(limit=log.capacity):
        if record.link_index is not None and record.link_index in indexes:
            found.setdefault(record.link_index, deque(maxlen=LINK_EVENTS)).append(record)
    return found


def route_document(route: Route, state: State) -> Document:
    link = state.links.get(route.oif)
    return {
        "family": FAMILIES.get(route.family, str(route.family)),
        "table": route.table,
        "table_name": TABLES.get(route.table),
        "dst": route.dst,
        "default": route.is_default,
        "gateway": _or_none(route.gateway),
        "ifindex": route.oif or None,
        "interface": link.name if link else None,
        "protocol": route.protocol,
        "protocol_name": PROTOCOLS.get(route.protocol),
        "scope": SCOPES.get(route.scope, str(route.scope)),
        "type": ROUTE_TYPES.get(route.type, str(route.type)),
        "metric": route.priority,
        "prefsrc": _or_none(route.prefsrc),
        "tos": route.tos,
    }


def route_sort_key(route: Route) -> tuple[int, int, str, int, int]:
    return (route.table, route.family, route.dst, route.priority, route.oif)


def rule_document(rule: Rule) -> Document:
    return {
        "family": FAMILIES.get(rule.family, str(rule.family)),
        "priority": rule.priority,
        "table": rule.table,
        "table_name": TABLES.get(rule.table),
        "from": _or_none(rule.src),
        "to": _or_none(rule.dst),
        "iif": _or_none(rule.iif),
        "oif": _or_none(rule.oif),
        "fwmark": rule.fwmark,
        "fwmask": rule.fwmask,
        "protocol": rule.protocol,
        "protocol_name": PROTOCOLS.get(rule.protocol),
        "action": RULE_ACTIONS.get(rule.action, str(rule.action)),
        "suppress_prefixlen": None if rule.suppress_prefixlen < 0 else rule.suppress_prefixlen,
    }


def rule_sort_key(rule: Rule) -> tuple[int, int, str, str, int]:
    return (rule.family, rule.priority, rule.src, rule.dst, rule.table)


def event_document(record: Mapping[str, Any]) -> Document:
    """An event-log record (EventRecord.to_dict or a live one) with its time in RFC 3339."""
    return {**record, "time": iso(record["ts"])}


def script_message(message: Mapping[str, Any]) -> Document:
    """A live script outcome: the event's seq and the ScriptRecord fields."""
    return dict(message)


def verdict_document(verdict: ScriptVerdict) -> Document:
    return {
        "name": verdict.name,
        "path": verdict.path,
        "runs": verdict.runs,
        "verdict": "runs" if verdict.runs else "skipped",
        "reason": verdict.reason or None,
        "tree": verdict.tree,
    }


def scripts_document(
    script_dirs: Iterable[str],
    verdicts: Iterable[ScriptVerdict],
    compat_dirs: Iterable[tuple[str, Iterable[str]]] = (),
) -> Document:
    """Every script found, per tree and directory: netevd's own first, then the dispatchers'
    trees that are on (*compat_dirs*: each with its base directories)."""
    grouped: dict[tuple[int, str, str], list[Document]] = {}
    for verdict in verdicts:
        key = (verdict.tree != Tree.NETEVD, verdict.tree, verdict.directory)
        grouped.setdefault(key, []).append(verdict_document(verdict))
    return {
        "script_dirs": list(script_dirs),
        "compat_dirs": {tree: list(dirs) for tree, dirs in compat_dirs},
        "directories": [
            {"tree": tree, "directory": name, "scripts": scripts}
            for (_, tree, name), scripts in sorted(grouped.items())
        ],
    }


def status_document(
    state: State,
    log: EventLog,
    *,
    ready: bool,
    started: float,
    scripts: tuple[int, int],
    routes_followed: Mapping[str, object] | None = None,
) -> Document:
    last = log.last()
    run, failed = scripts
    return {
        "version": __version__,
        "started": iso(started),
        "uptime_seconds": round(max(0.0, time.time() - started), 3),
        "backend": state.backend,
        "ready": ready,
        "sources": dict(state.sources),
        # manager-level values (NetworkManager's State, Connectivity, Hostname; networkd's
        # Manager), as manager.d and the dispatchers' manager actions see them
        "managers": {source: dict(props) for source, props in sorted(state.manager.items())},
        "vpns": {str(number): dict(props) for number, props in sorted(state.vpns.items())},
        "gateways": gateway_liveness(state),
        "counts": {
            "interfaces": len(state.links),
            "addresses": sum(len(bucket) for bucket in state.addrs.values()),
            "routes": sum(len(bucket) for bucket in state.routes.values()),
            "rules": len(state.rules),
            "events": log.total,
            "events_buffered": len(log.query(limit=log.capacity)),
            "scripts_run": run,
            "scripts_failed": failed,
        },
        "last_event": event_document(last.to_dict()) if last else None,
        "routes_followed": dict(routes_followed or RouteFollow().describe()),
    }


def health_checks(state: State, ready: bool) -> dict[str, str]:
    """Check name -> "ok" or what is wrong. Every source the daemon has must be up."""
    checks = {"initial_dump": "ok" if ready else "not done yet"}
    for source, up in sorted(state.sources.items()):
        checks[f"source:{source}"] = "ok" if up else "down"
    return checks
