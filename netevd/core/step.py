"""The engine's step, pure: ``step(world, event, config, now) -> Step(world, actions, records)``.

Everything the engine decides happens here: apply the event, react to the transition, plan what
netevd keeps in the kernel, number and describe the event. The asyncio shell (netevd.engine) only
queues events, calls this and hands the actions on: testable without a loop (tests/scenarios/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from netevd.core.actions import Action, ConfigApplied, Note, PendingRun, Ready, RunScripts
from netevd.core.compat import compat_actions
from netevd.core.config import Config
from netevd.core.describe import event_detail, lease_detail
from netevd.core.dhcp.reactions import react_lease, react_link_gone
from netevd.core.events import (
    DHCLIENT,
    KERNEL,
    NETLINK,
    ConfigReloaded,
    Context,
    Event,
    KernelEvent,
    KernelSnapshot,
    LeaseChanged,
    LeaseLost,
    LinkRemoved,
    ManagerChanged,
    ManagerEvent,
    ManagerLinkChanged,
    ManagerLinkRemoved,
    ManagerSnapshot,
    QuietWindowEnded,
    RoutesSnapshot,
    RoutingApplied,
    RunDropped,
    ScriptFinished,
    ServiceCalled,
    SourceStatus,
    TablesAssigned,
    VpnChanged,
    VpnRemoved,
)
from netevd.core.kinds import EventKind
from netevd.core.manager_records import manager_record
from netevd.core.react.kernel import react, react_links, react_resync_routes
from netevd.core.react.kernel_changes import react_hooks, react_hooks_between
from netevd.core.react.liveness import kernel_plans
from netevd.core.react.managers import react_manager, react_manager_links
from netevd.core.react.pending import resolve
from netevd.core.react.routing import routing_actions
from netevd.core.react.vpn import react_vpns
from netevd.core.records import NETEVD, Record
from netevd.core.state import (
    State,
    apply,
    apply_all,
    expand_manager_snapshot,
    expand_routes,
    expand_snapshot,
)

ManagerInput = ManagerSnapshot | ManagerEvent


@dataclass(frozen=True, slots=True)
class World:
    """What the engine knows: the network's state and its own bookkeeping."""

    state: State = field(default_factory=State)
    seq: int = 0  # the last sequence number given to an event
    ready: bool = False  # READY=1 has been decided
    kernel_seen: bool = False  # the kernel's first picture has been applied
    held: tuple[ManagerInput, ...] = ()  # manager reports waiting for the kernel's picture
    replayed: frozenset[str] = frozenset()  # managers whose startup replay is done
    required: frozenset[str] = frozenset({NETLINK})  # sources READY waits for
    unscripted: frozenset[str] = frozenset()  # directories with no entry at start (Context's)


@dataclass(frozen=True, slots=True)
class Step:
    world: World
    actions: tuple[Action, ...] = ()
    records: tuple[Record, ...] = ()
    # (event type, source) of every event handled, for netevd_events_total
    tally: tuple[tuple[str, str], ...] = ()

    def then(self, other: Step) -> Step:
        """This step followed by *other* (taken from this one's world)."""
        return Step(
            other.world,
            self.actions + other.actions,
            self.records + other.records,
            self.tally + other.tally,
        )


def step(world: World, event: Event, config: Config, now: float) -> Step:
    """The world after *event*, the actions it calls for and what to record of it."""
    result = _step(world, event, config, now)
    # compat: the runs of networkd-dispatcher's / NetworkManager-dispatcher's scripts that go
    # with netevd's own (netevd.core.compat); nothing when both are off.
    actions = compat_actions(result.actions, result.world.state, config)
    return result if actions is result.actions else replace(result, actions=actions)


def _step(world: World, event: Event, config: Config, now: float) -> Step:
    match event:
        case KernelSnapshot():
            return _kernel_snapshot(world, event, config, now)
        case (
            ManagerSnapshot()
            | ManagerLinkChanged()
            | ManagerLinkRemoved()
            | ManagerChanged()
            | VpnChanged()
            | VpnRemoved()
        ):
            if not world.kernel_seen:
                # A manager's replay needs the kernel's picture (addresses, gateways) first.
                return Step(replace(world, held=(*world.held, event)))
            return _manager(world, event, config, now)
        case RoutesSnapshot(routes):
            # Routes the kernel dropped without a message: as ordinary route events.
            return _fold(world, expand_routes(world.state, routes), config, now)
        case ConfigReloaded(new):
            return _config(world, new, now)
        case TablesAssigned():
            return _tables(world, event, config)
        case RoutingApplied():
            return _routing_applied(world, event, now)
        case SourceStatus():
            return _source_status(world, event, now)
        case QuietWindowEnded(run):
            return Step(world, tuple(resolve(world.state, run, config)))
        case ScriptFinished() | RunDropped():
            return Step(world)  # executors' reports: accounted for by the shell
        case LeaseChanged() | LeaseLost():
            return _lease_event(world, event, config, now)
        case ServiceCalled():
            return _service_called(world, event, now)
        case _:
            return _kernel_event(world, event, config, now)


def step_many(world: World, events: Iterable[Event], config: Config, now: float) -> Step:
    """The events one after the other, as a single step: exactly what :func:`step` on each in
    turn would give (every event numbered, recorded and reacted to, scripts fired in order),
    in one result. The engine hands it what it found queued; a storm is handled in batches."""
    return _chain(step, world, events, config, now)


def _chain(
    one: Callable[[World, Any, Config, float], Step],
    world: World,
    events: Iterable[Event],
    config: Config,
    now: float,
) -> Step:
    """*one* on each event in turn, gathered into one step (lists: a batch may be large)."""
    actions: list[Action] = []
    records: list[Record] = []
    tally: list[tuple[str, str]] = []
    for event in events:
        result = one(world, event, config, now)
        world = result.world
        actions += result.actions
        records += result.records
        tally += result.tally
    return Step(world, tuple(actions), tuple(records), tuple(tally))


def _next(
    world: World, now: float, *, replay: bool = False, resync: bool = False
) -> tuple[World, Context]:
    seq = world.seq + 1
    return replace(world, seq=seq), Context(seq=seq, ts=now, replay=replay, resync=resync)


def _fired(actions: Iterable[Action]) -> tuple[str, ...]:
    return tuple(a.directory for a in actions if isinstance(a, RunScripts | PendingRun))


def _fold(world: World, events: Iterable[KernelEvent], config: Config, now: float) -> Step:
    """Kernel events found by a re-read, in one step; the outer step adds compat's runs once."""
    return _chain(_kernel_event, world, events, config, now)


def _kernel_event(world: World, event: KernelEvent, config: Config, now: float) -> Step:
    ctx = Context(seq=world.seq + 1, ts=now)
    before = world.state
    after = apply(before, event)
    # the kernel's own hooks first: link-added.d before the new link's carrier.d
    actions = react_hooks(before, after, event, ctx, config)
    actions += react(before, after, event, ctx, config)
    actions += kernel_plans(before, after, event, config)
    if isinstance(event, LinkRemoved):
        actions += react_link_gone(before, event, config)
    kind, index, detail = event_detail(event)
    link = (after.links.get(index) or before.links.get(index)) if index else None
    record = Record(
        ctx.seq,
        ctx.ts,
        kind,
        KERNEL,
        index,
        link.name if link else None,
        detail,
        _fired(actions),
    )
    tally = ((type(event).__name__, KERNEL),)
    return Step(_advanced(world, after, ctx.seq), tuple(actions), (record,), tally)


def _advanced(world: World, state: State, seq: int) -> World:
    """*world* with a new state and sequence number (dataclasses.replace without its cost)."""
    w = world
    return World(state, seq, w.ready, w.kernel_seen, w.held, w.replayed, w.required, w.unscripted)


def _lease_event(world: World, event: LeaseChanged | LeaseLost, config: Config, now: float) -> Step:
    replay = isinstance(event, LeaseChanged) and event.replay
    world, ctx = _next(world, now, replay=replay)
    before = world.state
    after = apply(before, event)
    actions = react_lease(before, after, event, ctx, config)
    actions += routing_actions(before, after, event, config)
    link = after.link_by_name(event.interface)
    if isinstance(event, LeaseChanged):
        kind, detail = EventKind.LEASE, lease_detail(event.lease)
    else:
        kind, detail = EventKind.LEASE_LOST, {"reason": event.reason, "family": event.family}
    record = Record(
        ctx.seq,
        ctx.ts,
        kind,
        DHCLIENT,
        link.index if link else None,
        event.interface,
        detail,
        _fired(actions),
    )
    tally = ((type(event).__name__, DHCLIENT),)
    return Step(replace(world, state=after), tuple(actions), (record,), tally)


def _service_called(world: World, event: ServiceCalled, now: float) -> Step:
    world, ctx = _next(world, now)
    detail = {
        "service": event.service,
        "call": event.call,
        "ok": event.ok,
        "error": event.error or None,
        "detail": event.detail or None,
    }
    link = world.state.links.get(event.link_index)
    record = Record(
        ctx.seq,
        ctx.ts,
        EventKind.SERVICE_CALL,
        NETEVD,
        event.link_index or None,
        link.name if link else None,
        detail,
    )
    return Step(world, (), (record,))


def _kernel_snapshot(world: World, snap: KernelSnapshot, config: Config, now: float) -> Step:
    """Startup replay or overrun resync: the difference, as events, reacted to as a whole."""
    replay = snap.reason == "startup" and not world.ready
    events = expand_snapshot(world.state, snap)
    world, ctx = _next(world, now, replay=replay, resync=not replay)
    before = world.state
    after = apply_all(before, events)
    kind = EventKind.REPLAY if replay else EventKind.RESYNC
    indexes = set(before.links) | set(after.links)
    actions = react_links(before, after, indexes, ctx, config, kind.value, world.unscripted)
    if not replay:
        actions += react_hooks_between(before, after, ctx, config)
        actions += react_resync_routes(before, after, ctx, config)
    actions += kernel_plans(before, after, None, config)
    detail = {
        "links": len(snap.links),
        "addresses": len(snap.addrs),
        "routes": len(snap.routes),
        "rules": len(snap.rules),
        "changes": len(events),
    }
    record = Record(ctx.seq, ctx.ts, kind, KERNEL, detail=detail, directories=_fired(actions))
    tally = tuple((type(e).__name__, KERNEL) for e in events)
    result = Step(replace(world, state=after), tuple(actions), (record,), tally)
    if world.kernel_seen:
        return result
    held = result.world.held
    result = replace(result, world=replace(result.world, kernel_seen=True, held=()))
    for waiting in held:
        result = result.then(_step(result.world, waiting, config, now))
    return result


def _manager(world: World, event: ManagerInput, config: Config, now: float) -> Step:
    if isinstance(event, ManagerSnapshot):
        return _manager_snapshot(world, event, config, now)
    world, ctx = _next(world, now)
    before = world.state
    after = apply(before, event)
    actions = react_manager(before, after, event, ctx, config)
    record = manager_record(ctx, event, before, after, _fired(actions))
    tally = ((type(event).__name__, event.source),)
    return Step(replace(world, state=after), tuple(actions), (record,), tally)


def _manager_snapshot(world: World, snap: ManagerSnapshot, config: Config, now: float) -> Step:
    replay = snap.source not in world.replayed
    world = replace(world, replayed=world.replayed | {snap.source})
    events = expand_manager_snapshot(world.state, snap)
    world, ctx = _next(world, now, replay=replay, resync=not replay)
    before = world.state
    after = apply_all(before, events)
    indexes = {i for i, _, _ in snap.links}
    kind = EventKind.REPLAY if replay else EventKind.RESYNC
    actions = react_manager_links(before, after, snap.source, indexes, ctx, config, kind)
    actions += react_vpns(before, after, {n for n, _ in snap.vpns}, ctx, config, kind)
    changed = tuple(k for e in events if isinstance(e, ManagerChanged) for k, _ in e.properties)
    if changed:
        current = after.manager[snap.source]
        summary = ManagerChanged(snap.source, tuple((k, current[k]) for k in changed))
        actions += react_manager(before, after, summary, ctx, config)
    record = Record(
        ctx.seq,
        ctx.ts,
        kind,
        snap.source,
        detail={"links": len(snap.links), "changes": len(events)},
        directories=_fired(actions),
    )
    tally = tuple((type(e).__name__, snap.source) for e in events)
    return Step(replace(world, state=after), tuple(actions), (record,), tally)


def _config(world: World, config: Config, now: float) -> Step:
    world, ctx = _next(world, now)
    record = Record(ctx.seq, ctx.ts, EventKind.CONFIG, NETEVD)
    actions = (ConfigApplied(config), *kernel_plans(world.state, world.state, None, config))
    return Step(world, actions, (record,))


def _tables(world: World, event: TablesAssigned, config: Config) -> Step:
    before = world.state
    after = apply(before, event)
    listed = " ".join(f"{name}={table}" for name, table in event.tables)
    actions: list[Action] = [Note(f"routing.tables {listed}")]
    actions += routing_actions(before, after, None, config)
    return Step(replace(world, state=after), tuple(actions))


def _routing_applied(world: World, event: RoutingApplied, now: float) -> Step:
    world, ctx = _next(world, now)
    detail = {
        "added_rules": event.added_rules,
        "removed_rules": event.removed_rules,
        "added_routes": event.added_routes,
        "removed_routes": event.removed_routes,
        "readded": event.readded,
        "errors": list(event.errors),
        "conflicts": list(event.conflicts),
    }
    return Step(world, (), (Record(ctx.seq, ctx.ts, EventKind.ROUTING, NETEVD, detail=detail),))


def _source_status(world: World, event: SourceStatus, now: float) -> Step:
    world = replace(world, state=apply(world.state, event))
    world, ctx = _next(world, now)
    detail = {"up": event.up, "detail": event.detail}
    record = Record(ctx.seq, ctx.ts, EventKind.SOURCE, event.source, detail=detail)
    return Step(world, (), (record,)).then(_maybe_ready(world))


def _maybe_ready(world: World) -> Step:
    """READY needs the kernel's first picture; a manager only needs to have answered, up or
    down, so a stopped networkd delays nothing (kernel events flow without it)."""
    sources = world.state.sources
    answered = set(sources) if sources.get(NETLINK) and world.kernel_seen else set()
    if world.ready or not world.required <= answered:
        return Step(world)
    return Step(replace(world, ready=True), (Ready(tuple(sorted(world.required))),))


def require(world: World, sources: Iterable[str]) -> World:
    """READY also waits for these sources' first answer."""
    return replace(world, required=world.required | frozenset(sources))


def with_backend(world: World, backend: str) -> World:
    return replace(world, state=replace(world.state, backend=backend))
