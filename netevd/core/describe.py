"""Kernel events and records in words: the detail the event log keeps and the log line (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    KernelEvent,
    LinkChanged,
    LinkRemoved,
    NeighbourChanged,
    NeighbourRemoved,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
)
from netevd.core.kinds import EventKind
from netevd.core.model import Lease, Neigh
from netevd.core.records import Record

Detail = dict[str, object]


def event_detail(event: KernelEvent) -> tuple[EventKind, int | None, Detail]:
    """(kind, link index, detail) of one kernel event."""
    match event:
        case LinkChanged(link):
            detail: Detail = {
                "name": link.name,
                "flags": link.flag_names(),
                "mtu": link.mtu,
                "operstate": link.operstate,
            }
            return EventKind.LINK, link.index, detail
        case LinkRemoved(index):
            return EventKind.LINK_REMOVED, index, {}
        case AddressAdded(a):
            return EventKind.ADDRESS_ADDED, a.index, {"address": a.cidr()}
        case AddressRemoved(a):
            return EventKind.ADDRESS_REMOVED, a.index, {"address": a.cidr()}
        case RouteAdded(r) | RouteRemoved(r):
            kind = (
                EventKind.ROUTE_ADDED if isinstance(event, RouteAdded) else EventKind.ROUTE_REMOVED
            )
            route: Detail = {
                "dst": r.dst,
                "gateway": r.gateway or None,
                "table": r.table,
                "protocol": r.protocol,
            }
            return kind, r.oif or None, route
        case RuleAdded(rule) | RuleRemoved(rule):
            kind = EventKind.RULE_ADDED if isinstance(event, RuleAdded) else EventKind.RULE_REMOVED
            fields: Detail = {
                "priority": rule.priority,
                "table": rule.table,
                "from": rule.src or None,
                "to": rule.dst or None,
            }
            return kind, None, fields
        case NeighbourChanged(n) | NeighbourRemoved(n):
            return EventKind.NEIGHBOR, n.index, _neighbour(n, isinstance(event, NeighbourRemoved))
    raise TypeError(f"not a kernel event: {type(event).__name__}")  # pragma: no cover


def _neighbour(neigh: Neigh, removed: bool) -> Detail:
    state = "removed" if removed else neigh.state_name
    return {"address": neigh.address, "state": state, "lladdr": neigh.lladdr or None}


def _value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return " ".join(f"{k}={_value(v)}" for k, v in value.items())
    text = str(value)
    # A name from outside (an interface, a property value) is shown quoted when it could
    # break the key=value form.
    return repr(text) if not text or any(c.isspace() or c in "\"'=" for c in text) else text


def _fields(detail: Mapping[str, object]) -> str:
    parts = []
    for key, value in detail.items():
        if isinstance(value, Mapping):
            parts.append(_value(value))
        else:
            parts.append(f"{key}={_value(value)}")
    return " ".join(p for p in parts if p)


def record_line(record: Record) -> str:
    """The INFO line for a record: ``event seq=7 kind=address-added link='eth0' ...``."""
    detail = _fields(record.detail)
    if record.kind is EventKind.SOURCE:
        up = "up" if record.detail.get("up") else "down"
        return f"source.{up} source={record.source} detail={record.detail.get('detail', '')!r}"
    if record.kind in (EventKind.REPLAY, EventKind.RESYNC):
        return f"{record.kind} seq={record.seq} source={record.source} {detail}".rstrip()
    head = f"event seq={record.seq} kind={record.kind}"
    if record.link_index is not None:
        head += f" index={record.link_index} link={record.link_name!r}"
    source = "" if record.source == "kernel" else f" source={record.source}"
    fired = f" fired={','.join(record.directories)}" if record.directories else ""
    return f"{head} {detail}".rstrip() + source + fired


def lease_detail(lease: Lease) -> dict[str, object]:
    return {
        "family": lease.family,
        "address": lease.address,
        "prefixlen": lease.prefixlen,
        "routers": list(lease.routers),
        "dns": list(lease.dns),
        "domain": lease.domain,
        "search": list(lease.search),
        "host_name": lease.host_name,
        "lease_time": lease.lease_time,
        "server": lease.server,
        "expire": lease.expire,
    }
