"""netevd's own neighbour entries in the state (pure): gateway liveness's memory.

The kernel reports each NUD change of a managed entry; liveness is what the last decisive
state said. REACHABLE is alive, FAILED is dead, and STALE, DELAY, PROBE and INCOMPLETE are the
kernel re-checking, which leave it as it was. The kernel drops a FAILED entry's lladdr; the
last one known is kept, so a gateway that answers again from another MAC is seen changing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from immutables import Map

from netevd.core.events import NeighbourChanged, NeighbourRemoved
from netevd.core.model import NUD_FAILED, NUD_REACHABLE, Neigh

NeighKey = tuple[int, int, str]  # (ifindex, family, address)


@dataclass(frozen=True, slots=True)
class Watched:
    """One of netevd's entries: the kernel's last word, and whether it last answered."""

    neigh: Neigh
    alive: bool | None = None  # None: neither REACHABLE nor FAILED seen yet


def apply_neighbour(
    watched: Mapping[NeighKey, Watched], event: NeighbourChanged | NeighbourRemoved
) -> Mapping[NeighKey, Watched]:
    entries = watched if isinstance(watched, Map) else Map(watched)
    neigh = event.neigh
    old = entries.get(neigh.key)
    if isinstance(event, NeighbourRemoved):
        if old is None or old.alive is None:
            return entries.delete(neigh.key) if old is not None else entries
        # The kernel collects FAILED entries, managed ones too (IPv6 within a second): what
        # was known is kept, so the entry made again does not report a second failure.
        return entries.set(neigh.key, Watched(replace(old.neigh, state=0), old.alive))
    alive = old.alive if old is not None else None
    if not neigh.lladdr and old is not None and old.neigh.lladdr:
        neigh = replace(neigh, lladdr=old.neigh.lladdr)
    if neigh.state & NUD_REACHABLE:
        alive = True
    elif neigh.state & NUD_FAILED:
        alive = False
    return entries.set(neigh.key, Watched(neigh, alive))


def neighbours_without_link(
    watched: Mapping[NeighKey, Watched], index: int
) -> Mapping[NeighKey, Watched]:
    gone = [key for key in watched if key[0] == index]
    if not gone:
        return watched
    entries = watched if isinstance(watched, Map) else Map(watched)
    for key in gone:
        entries = entries.delete(key)
    return entries
