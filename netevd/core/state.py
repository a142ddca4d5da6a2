"""The state model and ``apply(state, event) -> state`` (pure).

State is immutable: every change builds new mappings and shares the unchanged ones. The
mappings are persistent hash maps (``immutables.Map``, a HAMT): setting or deleting one key
costs O(log n) and shares the rest, so one route added to a link that already has a million
costs about a microsecond, where copying a dict cost a millisecond per 100,000 entries
(docs/architecture.md, "The state"). Addresses are kept per link and routes per output
interface, so the API's per-link reads stay cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from immutables import Map

from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    Event,
    KernelEvent,
    KernelSnapshot,
    LeaseChanged,
    LeaseLost,
    LinkChanged,
    LinkRemoved,
    ManagerChanged,
    ManagerEvent,
    ManagerLinkChanged,
    ManagerLinkRemoved,
    ManagerSnapshot,
    NeighbourChanged,
    NeighbourRemoved,
    QuietWindowEnded,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
    RunDropped,
    ScriptFinished,
    SourceStatus,
    TablesAssigned,
    VpnChanged,
    VpnRemoved,
)
from netevd.core.model import (
    AF_INET,
    AF_INET6,
    RT_TABLE_LOCAL,
    RTN_UNICAST,
    RTPROT_NETEVD,
    Addr,
    Lease,
    Link,
    Route,
    Rule,
)
from netevd.core.neighbour_state import (
    NeighKey,
    Watched,
    apply_neighbour,
    neighbours_without_link,
)
from netevd.core.vpn_state import apply_vpn, expand_vpns

K = TypeVar("K")
V = TypeVar("V")
AddrKey = tuple[str, int]
RouteKey = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class State:
    links: Mapping[int, Link] = field(default_factory=Map)
    addrs: Mapping[int, Mapping[AddrKey, Addr]] = field(default_factory=Map)
    routes: Mapping[int, Mapping[RouteKey, Route]] = field(default_factory=Map)  # by oif
    rules: frozenset[Rule] = frozenset()
    sources: Mapping[str, bool] = field(default_factory=Map)  # source name -> up
    backend: str = "none"  # the effective backend (auto resolved)
    # what network managers report: source -> ifindex -> property -> value
    managed: Mapping[str, Mapping[int, Mapping[str, str]]] = field(default_factory=Map)
    manager: Mapping[str, Mapping[str, str]] = field(default_factory=Map)  # manager-level
    describe: Mapping[tuple[str, int], str] = field(default_factory=Map)  # Describe() JSON
    tables: Mapping[str, int] = field(default_factory=Map)  # policy-routing tables by name
    # netevd's own routes (RTPROT_NETEVD), kept apart so a plan check needs no full scan
    owned_routes: frozenset[Route] = frozenset()
    # dhclient's current leases: (interface name, family) -> lease
    leases: Mapping[tuple[str, int], Lease] = field(default_factory=Map)
    # (oif, family) -> routes that lead out of the link (views.has_route_out), kept as routes
    # come and go: scanning a link's routes for one took O(n) per event in a storm
    ways_out: Mapping[tuple[int, int], int] = field(default_factory=Map)
    defaults: Mapping[int, frozenset[Route]] = field(default_factory=Map)  # oif -> default routes
    vpns: Mapping[int, Mapping[str, str]] = field(default_factory=Map)  # netevd.core.vpn_state
    neighbours: Mapping[NeighKey, Watched] = field(default_factory=Map)  # neighbour_state

    def managed_props(self, source: str, index: int) -> Mapping[str, str]:
        return self.managed.get(source, {}).get(index, {})

    def link_addrs(self, index: int) -> Iterable[Addr]:
        return self.addrs.get(index, {}).values()

    def link_routes(self, index: int) -> Iterable[Route]:
        return self.routes.get(index, {}).values()

    def all_routes(self) -> Iterable[Route]:
        for bucket in self.routes.values():
            yield from bucket.values()

    def link_by_name(self, name: str) -> Link | None:
        for link in self.links.values():
            if link.name == name:
                return link
        return None


def persistent(mapping: Mapping[K, V]) -> Map[K, V]:
    """*mapping* as a persistent map (itself when it is one already)."""
    return mapping if isinstance(mapping, Map) else Map(mapping)


def _with(mapping: Mapping[K, V], key: K, value: V) -> Map[K, V]:
    return persistent(mapping).set(key, value)


def _without(mapping: Mapping[K, V], key: K) -> Mapping[K, V]:
    if key not in mapping:
        return mapping
    return persistent(mapping).delete(key)


def _evolve(
    state: State,
    *,
    addrs: Mapping[int, Mapping[AddrKey, Addr]] | None = None,
    routes: Mapping[int, Mapping[RouteKey, Route]] | None = None,
) -> State:
    """*state* with new addresses or routes: dataclasses.replace, without its generic cost
    (it is paid for every event of a storm)."""
    s = state
    return State(
        s.links,
        s.addrs if addrs is None else addrs,
        s.routes if routes is None else routes,
        s.rules,
        s.sources,
        s.backend,
        s.managed,
        s.manager,
        s.describe,
        s.tables,
        s.owned_routes,
        s.leases,
        s.ways_out,
        s.defaults,
        s.vpns,
        s.neighbours,
    )


def apply(state: State, event: Event) -> State:
    """The state after *event*. Events that carry no fact about the network return *state*."""
    match event:
        case LinkChanged(link):
            return replace(state, links=_with(state.links, link.index, link))
        case LinkRemoved(index):
            return _remove_link(state, index)
        case AddressAdded(addr):
            bucket = _with(state.addrs.get(addr.index, {}), addr.key, addr)
            return _evolve(state, addrs=_with(state.addrs, addr.index, bucket))
        case AddressRemoved(addr):
            return _remove_addr(state, addr)
        case RouteAdded(route):
            current = state.routes.get(route.oif, {})
            state = _owned(state, current.get(route.key), route)
            state = _counted(state, current.get(route.key), route)
            routes = _with(current, route.key, route)
            return _evolve(state, routes=_with(state.routes, route.oif, routes))
        case RouteRemoved(route):
            return _remove_route(state, route)
        case RuleAdded(rule):
            return replace(state, rules=state.rules | {rule})
        case RuleRemoved(rule):
            return replace(state, rules=state.rules - {rule})
        case TablesAssigned(tables):
            return replace(state, tables=Map(tables))
        case SourceStatus(source, up, _):
            return replace(state, sources=_with(state.sources, source, up))
        case ManagerLinkChanged() | ManagerLinkRemoved() | ManagerChanged():
            return _apply_manager(state, event)
        case VpnChanged() | VpnRemoved():
            return replace(state, vpns=apply_vpn(state.vpns, event))
        case LeaseChanged(interface, lease):
            return replace(state, leases=_with(state.leases, (interface, lease.family), lease))
        case LeaseLost(interface, _, family):
            return replace(state, leases=_without(state.leases, (interface, family)))
        case NeighbourChanged() | NeighbourRemoved():
            return replace(state, neighbours=apply_neighbour(state.neighbours, event))
        case _:
            return state


def _remove_link(state: State, index: int) -> State:
    return replace(
        state,
        links=_without(state.links, index),
        addrs=_without(state.addrs, index),
        routes=_without(state.routes, index),
        owned_routes=frozenset(r for r in state.owned_routes if r.oif != index),
        ways_out=_without(_without(state.ways_out, (index, AF_INET)), (index, AF_INET6)),
        defaults=_without(state.defaults, index),
        neighbours=neighbours_without_link(state.neighbours, index),
    )


def _apply_manager(state: State, event: ManagerEvent) -> State:
    match event:
        case ManagerLinkChanged(source, index, properties, describe):
            links = state.managed.get(source, {})
            props = {**links.get(index, {}), **dict(properties)}
            managed = _with(state.managed, source, _with(links, index, props))
            described = (
                _with(state.describe, (source, index), describe) if describe else (state.describe)
            )
            return replace(state, managed=managed, describe=described)
        case ManagerLinkRemoved(source, index):
            links = _without(state.managed.get(source, {}), index)
            return replace(
                state,
                managed=_with(state.managed, source, links),
                describe=_without(state.describe, (source, index)),
            )
        case ManagerChanged(source, properties):
            props = {**state.manager.get(source, {}), **dict(properties)}
            return replace(state, manager=_with(state.manager, source, props))
    return state


def _remove_addr(state: State, addr: Addr) -> State:
    bucket = state.addrs.get(addr.index)
    if bucket is None or addr.key not in bucket:
        return state
    bucket = _without(bucket, addr.key)
    addrs = _with(state.addrs, addr.index, bucket) if bucket else _without(state.addrs, addr.index)
    return _evolve(state, addrs=addrs)


def _owned(state: State, old: Route | None, new: Route | None) -> State:
    """Keep owned_routes in step when *old* is replaced by *new* (either may be None)."""
    owned = state.owned_routes
    if old is not None and old.protocol == RTPROT_NETEVD:
        owned = owned - {old}
    if new is not None and new.protocol == RTPROT_NETEVD:
        owned = owned | {new}
    return state if owned is state.owned_routes else replace(state, owned_routes=owned)


def leads_out(route: Route) -> bool:
    """A unicast route out of its link; fe80::/64 leads nowhere beyond the link."""
    return (
        route.type == RTN_UNICAST
        and route.table != RT_TABLE_LOCAL
        and not route.dst.startswith("fe80:")
    )


def _counted(state: State, old: Route | None, new: Route | None) -> State:
    """Keep ways_out and defaults in step when *old* is replaced by *new* (either may be
    None)."""
    if (old is not None and old.is_default) or (new is not None and new.is_default):
        state = _defaults(state, old, new)
    delta = (1 if new is not None and leads_out(new) else 0) - (
        1 if old is not None and leads_out(old) else 0
    )
    if not delta:
        return state
    route = new if new is not None else old
    assert route is not None  # delta is 0 when both are None
    key = (route.oif, route.family)
    count = state.ways_out.get(key, 0) + delta
    ways = _with(state.ways_out, key, count) if count else _without(state.ways_out, key)
    return replace(state, ways_out=ways)


def _defaults(state: State, old: Route | None, new: Route | None) -> State:
    route = new if new is not None else old
    assert route is not None  # called with one of them a default route
    kept = state.defaults.get(route.oif, frozenset())
    if old is not None:
        kept = kept - {old}
    if new is not None and new.is_default:
        kept = kept | {new}
    oif = route.oif
    defaults = _with(state.defaults, oif, kept) if kept else _without(state.defaults, oif)
    return replace(state, defaults=defaults)


def _remove_route(state: State, route: Route) -> State:
    bucket = state.routes.get(route.oif)
    if bucket is None or route.key not in bucket:
        return state
    state = _owned(state, bucket[route.key], None)
    state = _counted(state, bucket[route.key], None)
    bucket = _without(bucket, route.key)
    routes = _with(state.routes, route.oif, bucket) if bucket else _without(state.routes, route.oif)
    return _evolve(state, routes=routes)


def apply_all(state: State, events: Iterable[Event]) -> State:
    for event in events:
        state = apply(state, event)
    return state


def expand_snapshot(state: State, snap: KernelSnapshot) -> list[KernelEvent]:
    """The events that take *state* to exactly what *snap* shows (nothing for what is equal)."""
    links = {link.index: link for link in snap.links}
    addrs = {(a.index, a.key): a for a in snap.addrs}
    routes = {(r.oif, r.key): r for r in snap.routes}
    old_addrs = {(a.index, a.key): a for i in state.addrs for a in state.link_addrs(i)}
    old_routes = {(r.oif, r.key): r for r in state.all_routes()}
    events: list[KernelEvent] = []
    events += [LinkChanged(new) for i, new in links.items() if state.links.get(i) != new]
    events += [AddressRemoved(a) for k, a in old_addrs.items() if k not in addrs]
    events += [AddressAdded(a) for k, a in addrs.items() if old_addrs.get(k) != a]
    events += [RouteRemoved(r) for k, r in old_routes.items() if k not in routes]
    events += [RouteAdded(r) for k, r in routes.items() if old_routes.get(k) != r]
    new_rules = frozenset(snap.rules)
    events += [RuleRemoved(r) for r in state.rules - new_rules]
    events += [RuleAdded(r) for r in new_rules - state.rules]
    events += [LinkRemoved(i) for i in state.links if i not in links]
    return events


def expand_routes(state: State, routes: Iterable[Route]) -> list[KernelEvent]:
    """The route events that take *state*'s routes to exactly *routes*."""
    new = {(r.oif, r.key): r for r in routes}
    old = {(r.oif, r.key): r for r in state.all_routes()}
    events: list[KernelEvent] = [RouteRemoved(r) for k, r in old.items() if k not in new]
    events += [RouteAdded(r) for k, r in new.items() if old.get(k) != r]
    return events


def expand_manager_snapshot(state: State, snap: ManagerSnapshot) -> list[ManagerEvent]:
    """The manager events that take *state* to what *snap* reports."""
    old = state.managed.get(snap.source, {})
    events: list[ManagerEvent] = []
    seen = set()
    for index, properties, describe in snap.links:
        seen.add(index)
        changed = tuple((k, v) for k, v in properties if old.get(index, {}).get(k) != v)
        if changed or (describe and state.describe.get((snap.source, index)) != describe):
            events.append(ManagerLinkChanged(snap.source, index, changed, describe))
    events += [ManagerLinkRemoved(snap.source, i) for i in old if i not in seen]
    current = state.manager.get(snap.source, {})
    changed = tuple((k, v) for k, v in snap.manager if current.get(k) != v)
    if changed:
        events.append(ManagerChanged(snap.source, changed))
    return events + expand_vpns(state.vpns, snap.source, snap.vpns)


def touched_links(event: Event) -> set[int]:
    """The links whose derived state an event may change."""
    match event:
        case LinkChanged(link):
            return {link.index}
        case LinkRemoved(index):
            return {index}
        case AddressAdded(addr) | AddressRemoved(addr):
            return {addr.index}
        case RouteAdded(route) | RouteRemoved(route):
            return {route.oif} if route.oif else set()
        case ManagerLinkChanged(_, index) | ManagerLinkRemoved(_, index):
            return {index}
        case _:
            return set()


def event_scope(event: Event) -> frozenset[int] | None:
    """The links whose state an event reads or changes; None when it may reach any (a
    snapshot, a rule, a reload, a source's status). The state keeps each link's addresses
    and routes apart, so events of disjoint scopes commute: the engine may handle one before
    another that was queued earlier (netevd.engine.intake) and end in the same state."""
    match event:
        case LinkChanged(link):
            return frozenset((link.index,))
        case LinkRemoved(index) | ManagerLinkChanged(_, index) | ManagerLinkRemoved(_, index):
            return frozenset((index,))
        case AddressAdded(addr) | AddressRemoved(addr):
            return frozenset((addr.index,))
        case NeighbourChanged(neigh) | NeighbourRemoved(neigh):
            return frozenset((neigh.index,))
        case RouteAdded(route) | RouteRemoved(route):
            return frozenset((route.oif,)) if route.oif else None
        case QuietWindowEnded(run):
            return frozenset((run.link_index,))
        case ScriptFinished() | RunDropped():
            return frozenset()  # executors' reports: accounted for, they change no state
    return None
