"""Gateway liveness as the API, ``netevd status`` and /metrics show it (pure): read from the
published State's record of netevd's own neighbour entries (netevd.core.neighbour_state), so
data walks one way and nothing here is kept up to date."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netevd.core.neighbour_state import NeighKey, Watched
from netevd.core.state import State
from netevd.core.views import view


def gateway_reachable(
    watched: Mapping[NeighKey, Watched], index: int, gateways: Iterable[str]
) -> bool | None:
    """Whether link *index*'s gateways answer, from netevd's own entries: False when one of
    them failed (a dual-stack link with one dead router is not healthy), True when every one
    known answered, None when none is known yet (or gateway liveness is off: no entries)."""
    wanted = {address for address in gateways if address}
    known = [w.alive for key, w in watched.items() if key[0] == index and key[2] in wanted]
    if False in known:
        return False
    return True if True in known else None


def link_reachable(state: State, index: int) -> bool | None:
    """gateway_reachable for the gateways of link *index*'s main-table default routes."""
    derived = view(state, index)
    if derived is None:
        return None
    return gateway_reachable(state.neighbours, index, (derived.gateway, derived.gateway6))


def gateway_liveness(state: State) -> dict[str, bool]:
    """Link name -> whether its gateway answers, for the links netevd keeps an entry for whose
    liveness is known (none with monitoring.gateway_liveness off), by ifindex."""
    found: dict[str, bool] = {}
    for index in sorted({key[0] for key in state.neighbours}):
        link, alive = state.links.get(index), link_reachable(state, index)
        if link is not None and alive is not None:
            found[link.name] = alive
    return found
