"""``react``: from a transition of the state to the actions it calls for (pure): the kernel's
link reactions (carrier.d, no-carrier.d, the kernel-derived states) and routes.d. How each run is
built is netevd.core.runs."""

from __future__ import annotations

from collections.abc import Iterable

from netevd.core.actions import Action, RejectLink
from netevd.core.config import Config
from netevd.core.directories import KERNEL_STATE_DIRECTORIES, Directory
from netevd.core.environment import link_name_problem
from netevd.core.events import (
    KERNEL,
    AddressAdded,
    AddressRemoved,
    Context,
    Event,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    RouteRemoved,
)
from netevd.core.filters import monitored
from netevd.core.kinds import EventKind
from netevd.core.model import Route
from netevd.core.react.pending import pending_run, scriptable
from netevd.core.runs import apply_filters, fires_routes, policy_env, script_run, unscripted_replay
from netevd.core.state import State, touched_links
from netevd.core.views import LinkView, has_route_out, kernel_state, view

# The EVENT value of a run a kernel event fires (routes.d has its own: ROUTES_EVENT).
EVENT_KINDS: dict[type, EventKind] = {
    LinkChanged: EventKind.LINK,
    LinkRemoved: EventKind.LINK_REMOVED,
    AddressAdded: EventKind.ADDRESS_ADDED,
    AddressRemoved: EventKind.ADDRESS_REMOVED,
    RouteAdded: EventKind.ROUTE_ADDED,
    RouteRemoved: EventKind.ROUTE_REMOVED,
}
ROUTES_EVENT = {RouteAdded: "new", RouteRemoved: "del"}  # routes.d's EVENT values


def react(before: State, after: State, event: Event, ctx: Context, config: Config) -> list[Action]:
    """The actions one event calls for."""
    kind = EVENT_KINDS.get(type(event))
    if kind is None:
        return []
    if not isinstance(event, RouteAdded | RouteRemoved):
        return react_links(before, after, touched_links(event), ctx, config, kind.value)
    route = event.route
    actions = (
        react_links(before, after, touched_links(event), ctx, config, kind.value)
        if _may_change_link(before, after, route)
        else []
    )
    return actions + _route_actions(after, route, ctx, config, ROUTES_EVENT[type(event)])


def _may_change_link(before: State, after: State, route: Route) -> bool:
    """Whether a route event can fire a directory for its link. Carrier and addresses stay as
    they were; only the kernel-derived state (backend none) reads routes, and only whether a
    route of the family leads out (has_route_out). A storm of routes on a link that already
    has one settles this with two short looks instead of two kernel states per event."""
    if after.backend != "none" or not route.oif:
        return False
    oif, family = route.oif, route.family
    return has_route_out(before, oif, family) != has_route_out(after, oif, family)


def react_links(
    before: State,
    after: State,
    indexes: Iterable[int],
    ctx: Context,
    config: Config,
    kind: str,
    unscripted: frozenset[str] = frozenset(),
) -> list[Action]:
    """Carrier and state transitions of *indexes* between *before* and *after*; the startup
    replay builds no run for the *unscripted* directories (netevd.core.runs.unscripted_replay)."""
    if ctx.replay and not config.scripts.run_startup_triggers:
        return []
    ctx = unscripted_replay(ctx, unscripted, config)
    actions: list[Action] = []
    for index in sorted(indexes):
        actions += _link_transition(before, after, index, ctx, config, kind)
    return apply_filters(actions, config)


def react_resync_routes(before: State, after: State, ctx: Context, config: Config) -> list[Action]:
    """After an overrun, routes.d once for every link whose routes changed while unseen."""
    actions: list[Action] = []
    for index in sorted(set(before.routes) | set(after.routes)):
        old = {k: r for k, r in before.routes.get(index, {}).items() if fires_routes(r)}
        new = {k: r for k, r in after.routes.get(index, {}).items() if fires_routes(r)}
        if old != new and index:
            actions += _routes_stub(after, index, ctx, config, EventKind.RESYNC.value)
    return actions


def _scriptable(state: State, index: int, config: Config) -> LinkView | None:
    """The link's view when scripts may run for it; None otherwise."""
    current = view(state, index)
    if current is None or link_name_problem(current.link.name):
        return None
    return current if monitored(current.link.name, config.monitoring) else None


def _link_transition(
    before: State, after: State, index: int, ctx: Context, config: Config, kind: str
) -> list[Action]:
    link = after.links.get(index)
    if link is None:
        return []
    old = before.links.get(index)
    problem = link_name_problem(link.name)
    if problem:
        renamed = old is None or old.name != link.name
        return [RejectLink(index, link.name, problem)] if renamed else []
    if not monitored(link.name, config.monitoring):
        return []
    # Only what decides goes first; the full view (addresses, gateways) only when a directory
    # fires: on a link with thousands of addresses most events fire nothing.
    directories: list[Directory] = []
    if link.carrier != (old.carrier if old else False):
        directories.append(Directory.CARRIER if link.carrier else Directory.NO_CARRIER)
    if after.backend == "none":
        state = kernel_state(after, index)
        if state != (kernel_state(before, index) if old else None):
            directory = KERNEL_STATE_DIRECTORIES.get(state)
            if directory is not None:
                directories.append(directory)
    current = view(after, index) if directories else None
    if current is None:
        return []
    extra = policy_env(after, link.name, config)
    return [script_run(current, d, KERNEL, ctx, kind, after, extra=extra) for d in directories]


def _route_actions(
    after: State, route: Route, ctx: Context, config: Config, kind: str
) -> list[Action]:
    if not route.oif or not fires_routes(route) or ctx.replay:
        return []
    return _routes_stub(after, route.oif, ctx, config, kind)


def _routes_stub(state: State, index: int, ctx: Context, config: Config, kind: str) -> list[Action]:
    """A pending routes.d run, completed when its quiet window ends (netevd.core.react.pending)."""
    link = state.links.get(index)
    if link is None or not scriptable(link, config):
        return []
    return [pending_run(link, Directory.ROUTES, ctx, kind)]
