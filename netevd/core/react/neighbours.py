"""neighbor.d (pure): every NUD change of a neighbour listed in ``monitoring.neighbors``.

A busy host has thousands of neighbours, so only listed ones run anything; the kernel source
drops the others' messages before they become events (netevd.sources.netlink). Each change runs
at once, complete (not a pending run: two listed neighbours of one link changing together are
two runs), with ``NEIGH_ADDRESS``, ``NEIGH_STATE`` (``removed`` when the entry is deleted),
``NEIGH_STATE_OLD`` (``none`` for a new entry) and ``LLADDR``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from netevd.core.actions import Action
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.events import KERNEL, Context, Event, NeighbourChanged, NeighbourRemoved
from netevd.core.kinds import EventKind
from netevd.core.react.pending import scriptable
from netevd.core.runs import apply_filters, policy_env, script_run
from netevd.core.state import State
from netevd.core.views import view

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(listed: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in listed)


def listed(address: str, neighbours: tuple[str, ...]) -> bool:
    """Whether *address* is one of the listed addresses or in one of the listed networks."""
    if not neighbours:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in _networks(neighbours))


def react_listed(
    before: State, after: State, event: Event, ctx: Context, config: Config
) -> list[Action]:
    """The neighbor.d run for a change of a listed neighbour (none for a repeat)."""
    if not isinstance(event, NeighbourChanged | NeighbourRemoved) or ctx.replay:
        return []
    neigh = event.neigh
    if not listed(neigh.address, config.monitoring.neighbors):
        return []
    current = view(after, neigh.index)
    if current is None or not scriptable(current.link, config):
        return []
    was, now = before.neighbours.get(neigh.key), after.neighbours.get(neigh.key)
    old = was.neigh.state_name if was is not None else "none"
    new = "removed" if isinstance(event, NeighbourRemoved) else neigh.state_name
    if new == old:
        return []  # the same state again (a confirmation, an lladdr refresh)
    values = {
        "NEIGH_ADDRESS": neigh.address,
        "NEIGH_STATE": new,
        "NEIGH_STATE_OLD": old,
        "LLADDR": now.neigh.lladdr if now is not None else neigh.lladdr,  # kept through FAILED
    }
    extra = {**policy_env(after, current.link.name, config), **values}
    kind = EventKind.NEIGHBOR.value
    run = script_run(current, Directory.NEIGHBOR, KERNEL, ctx, kind, after, extra=extra)
    return apply_filters([run], config)
