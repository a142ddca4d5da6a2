"""Gateway liveness (pure): which neighbour entries netevd keeps, and what their changes run.

With ``monitoring.gateway_liveness`` every monitored link with a main-table default route
gets a *managed* neighbour entry for its gateway (IPv4 and IPv6): the kernel keeps it resolved
with its own probes, without traffic, and reports each NUD change (RTM_NEWNEIGH). Only
liveness counts: FAILED is ``gateway.d EVENT=unreachable``, REACHABLE after FAILED is
``EVENT=reachable`` (STALE, DELAY and PROBE are the kernel re-checking, not a change of
liveness), and a new MAC is ``EVENT=lladdr-changed`` with ``LLADDR_OLD``. The runs are pending
runs of ``gateway.d`` like its route changes, so a burst coalesces per link.
"""

from __future__ import annotations

from netevd.core.actions import Action, ManageNeighbours
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.events import (
    Context,
    Event,
    LinkChanged,
    LinkRemoved,
    NeighbourChanged,
    NeighbourRemoved,
    RouteAdded,
    RouteRemoved,
)
from netevd.core.model import AF_INET, AF_INET6, FAMILY_WORDS, RT_TABLE_MAIN, RTPROT_NETEVD, Neigh
from netevd.core.neighbour_state import NeighKey
from netevd.core.react.pending import pending_run, scriptable
from netevd.core.react.routing import routing_actions
from netevd.core.state import State
from netevd.core.views import gateway

UNREACHABLE, REACHABLE, LLADDR_CHANGED = "unreachable", "reachable", "lladdr-changed"
LIVENESS_EVENTS = frozenset({UNREACHABLE, REACHABLE, LLADDR_CHANGED})  # gateway.d's EVENT words


def wanted(state: State, config: Config) -> frozenset[NeighKey]:
    """The neighbour entries netevd keeps: each monitored link's gateways."""
    if not config.monitoring.gateway_liveness:
        return frozenset()
    found = set()
    for index in state.defaults:
        link = state.links.get(index)
        if link is None or not scriptable(link, config):
            continue
        for family in (AF_INET, AF_INET6):
            address = gateway(state, index, family)
            if address:
                found.add((index, family, address))
    return frozenset(found)


def neighbour_actions(
    before: State, after: State, event: Event | None, config: Config
) -> list[Action]:
    """The entries to keep, when *event* may have changed them (None: look regardless)."""
    if not config.monitoring.gateway_liveness:
        return []
    if event is None:
        return [ManageNeighbours(wanted(after, config))]
    match event:
        case RouteAdded(route) | RouteRemoved(route):
            if not (route.is_default and route.table == RT_TABLE_MAIN):
                return []
        case LinkChanged() | LinkRemoved():
            pass
        case NeighbourRemoved(neigh) if neigh.protocol == RTPROT_NETEVD:
            # the kernel collected one of netevd's entries (FAILED): made again if still wanted
            entries = wanted(after, config)
            return [ManageNeighbours(entries)] if neigh.key in entries else []
        case _:
            return []
    old, new = wanted(before, config), wanted(after, config)
    return [] if old == new else [ManageNeighbours(new)]


def kernel_plans(before: State, after: State, event: Event | None, config: Config) -> list[Action]:
    """What netevd keeps in the kernel after *event*: policy routing, then neighbour entries."""
    return routing_actions(before, after, event, config) + neighbour_actions(
        before, after, event, config
    )


def react_neighbour(
    before: State, after: State, event: Event, ctx: Context, config: Config
) -> list[Action]:
    """gateway.d's liveness runs for a change of one of netevd's neighbour entries."""
    if not config.monitoring.gateway_liveness or ctx.replay:
        return []
    if not isinstance(event, NeighbourChanged | NeighbourRemoved):
        return []
    neigh = event.neigh
    link = after.links.get(neigh.index)
    if link is None or not scriptable(link, config):
        return []
    if gateway(after, neigh.index, neigh.family) != neigh.address:
        return []  # an entry of a gateway that is gone: its removal is not a liveness change
    was, now = before.neighbours.get(neigh.key), after.neighbours.get(neigh.key)
    old = was.neigh if was is not None else None
    current = now.neigh if now is not None else neigh
    words = []
    if old is not None and now is not None and old.lladdr and old.lladdr != current.lladdr:
        words.append(LLADDR_CHANGED)
    alive_before = was.alive if was is not None else None
    alive_now = now.alive if now is not None else None
    if alive_now is False and alive_before is not False:
        words.append(UNREACHABLE)
    elif alive_now is True and alive_before is False:
        words.append(REACHABLE)
    return [
        pending_run(link, Directory.GATEWAY, ctx, word, _values(current, old, word))
        for word in words
    ]


def _values(neigh: Neigh, old: Neigh | None, word: str) -> tuple[tuple[str, str], ...]:
    values = [
        ("GATEWAY", neigh.address),
        ("FAMILY", FAMILY_WORDS.get(neigh.family, str(neigh.family))),
        ("NEIGH_STATE", neigh.state_name),
        ("LLADDR", neigh.lladdr),
    ]
    if word == LLADDR_CHANGED and old is not None:
        values.append(("LLADDR_OLD", old.lladdr))
    return tuple(values)
