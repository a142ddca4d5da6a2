"""Logging in key=value form, fit for journald (no own timestamps under JOURNAL_STREAM)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    Event,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
)
from netevd.core.state import State

TRACE = 5
LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def setup_logging(level: str, env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    logging.addLevelName(TRACE, "TRACE")
    journald = bool(env.get("JOURNAL_STREAM"))
    fmt = (
        "level=%(levelname)s %(message)s"
        if journald
        else ("%(asctime)s level=%(levelname)s %(message)s")
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    set_level(level)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(LEVELS.get(level, logging.INFO))
    # pyroute2 logs every datagram at DEBUG; only `trace` wants to see that.
    logging.getLogger("pyroute2").setLevel(TRACE if level == "trace" else logging.WARNING)


def _name(state: State, index: int) -> str:
    link = state.links.get(index)
    return repr(link.name) if link else "?"


def event_detail(event: Event) -> tuple[str, int | None, dict[str, object]]:
    """(kind, link index, detail) of a kernel event, for the event log the API serves."""
    match event:
        case LinkChanged(link):
            return (
                "link",
                link.index,
                {
                    "name": link.name,
                    "flags": link.flag_names(),
                    "mtu": link.mtu,
                    "operstate": link.operstate,
                },
            )
        case LinkRemoved(index):
            return "link-removed", index, {}
        case AddressAdded(a) | AddressRemoved(a):
            what = "address-added" if isinstance(event, AddressAdded) else "address-removed"
            return what, a.index, {"address": a.cidr()}
        case RouteAdded(r) | RouteRemoved(r):
            what = "route-added" if isinstance(event, RouteAdded) else "route-removed"
            return (
                what,
                r.oif or None,
                {
                    "dst": r.dst,
                    "gateway": r.gateway or None,
                    "table": r.table,
                    "protocol": r.protocol,
                },
            )
        case RuleAdded(rule) | RuleRemoved(rule):
            what = "rule-added" if isinstance(event, RuleAdded) else "rule-removed"
            return (
                what,
                None,
                {
                    "priority": rule.priority,
                    "table": rule.table,
                    "from": rule.src or None,
                    "to": rule.dst or None,
                },
            )
        case _:
            return type(event).__name__, None, {}


def describe_event(event: Event, state: State) -> str:
    """The key=value fields of one event, for its INFO line."""
    match event:
        case LinkChanged(link):
            flags = ",".join(link.flag_names()) or "-"
            return f"kind=link index={link.index} link={link.name!r} flags={flags} mtu={link.mtu}"
        case LinkRemoved(index):
            return f"kind=link-removed index={index}"
        case AddressAdded(a) | AddressRemoved(a):
            what = "address-added" if isinstance(event, AddressAdded) else "address-removed"
            return f"kind={what} index={a.index} link={_name(state, a.index)} address={a.cidr()}"
        case RouteAdded(r) | RouteRemoved(r):
            what = "route-added" if isinstance(event, RouteAdded) else "route-removed"
            via = f" via={r.gateway}" if r.gateway else ""
            return (
                f"kind={what} dst={r.dst}{via} oif={r.oif} link={_name(state, r.oif)} "
                f"table={r.table} proto={r.protocol}"
            )
        case RuleAdded(rule) | RuleRemoved(rule):
            what = "rule-added" if isinstance(event, RuleAdded) else "rule-removed"
            return (
                f"kind={what} priority={rule.priority} table={rule.table} "
                f"from={rule.src or 'all'} to={rule.dst or 'all'}"
            )
        case _:
            return f"kind={type(event).__name__}"
