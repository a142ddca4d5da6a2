"""The engine: the one loop that changes state.

``await queue.get()`` → apply → react → hand actions to executors. Sources and executors only
put events on the queue; nothing else writes the state, so there are no locks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from netevd.api.metrics import Metrics
from netevd.core.actions import Action, RunScripts
from netevd.core.config import Config
from netevd.core.events import (
    ConfigReloaded,
    Context,
    Event,
    KernelEvent,
    KernelSnapshot,
    ManagerChanged,
    ManagerLinkChanged,
    ManagerLinkRemoved,
    ManagerSnapshot,
    RoutesSnapshot,
    RoutingApplied,
    RunDropped,
    ScriptFinished,
    SourceStatus,
    TablesAssigned,
)
from netevd.core.manager_reactions import react_manager, react_manager_links
from netevd.core.reactions import react, react_links, react_resync_routes, resolve_routes
from netevd.core.routing import owned_rules
from netevd.core.routing_reactions import routing_actions
from netevd.core.state import (
    State,
    apply,
    apply_all,
    expand_manager_snapshot,
    expand_routes,
    expand_snapshot,
)
from netevd.engine_outcomes import Outcomes
from netevd.eventlog import EventLog, EventRecord
from netevd.system.logging import describe_event, event_detail

log = logging.getLogger("netevd.engine")

Dispatch = Callable[[Action], None]


class Engine:
    def __init__(
        self,
        config: Config,
        dispatch: Dispatch,
        metrics: Metrics,
        *,
        backend: str = "none",
        required_sources: Iterable[str] = ("netlink",),
        on_ready: Callable[[], None] | None = None,
        on_reload: Callable[[Config], None] | None = None,
        clock: Callable[[], float] = time.time,
        events: EventLog | None = None,
    ) -> None:
        self.config = config
        self.events = events if events is not None else EventLog()
        self.state = State(backend=backend)
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.seq = 0
        self.ready = False
        self._dispatch = dispatch
        self._metrics = metrics
        self._required = set(required_sources)
        self._on_ready = on_ready
        self._on_reload = on_reload
        self._clock = clock
        self._outcomes = Outcomes(metrics, self.events)
        self._replayed: set[str] = set()
        self._kernel_seen = False
        self._held: list[Event] = []
        metrics.set_backend(backend)

    def emit(self, event: Event) -> None:
        """For sources and executors: queue an event (never blocks)."""
        self.queue.put_nowait(event)

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                self.handle(event)
            except Exception:
                # One bad event must not stop the daemon; the traceback is for the developer.
                log.exception("engine.error event=%s", type(event).__name__)

    def handle(self, event: Event) -> None:
        match event:
            case KernelSnapshot():
                self._snapshot(event)
            case ManagerSnapshot() | ManagerLinkChanged() | ManagerLinkRemoved() | ManagerChanged():
                self._manager(event)
            case RoutesSnapshot(routes):
                # Routes the kernel dropped without a message: as ordinary route events.
                for change in expand_routes(self.state, routes):
                    self._kernel_event(change)
            case ConfigReloaded(config):
                self.config = config
                ctx = self._next()
                self.events.add(EventRecord(ctx.seq, ctx.ts, "config", "netevd"))
                if self._on_reload:
                    self._on_reload(config)
                self._run_actions(self._routing(self.state, None))
            case TablesAssigned():
                before, self.state = self.state, apply(self.state, event)
                log.info("routing.tables %s", " ".join(f"{n}={t}" for n, t in event.tables))
                self._run_actions(self._routing(before, None))
            case RoutingApplied():
                self._outcomes.routing_applied(event, self._next())
            case ScriptFinished():
                self._outcomes.script_finished(event)
            case RunDropped():
                self._outcomes.run_dropped(event)
            case SourceStatus():
                self._source_status(event)
            case _:
                self._kernel_event(event)

    def _next(self, *, replay: bool = False, resync: bool = False) -> Context:
        self.seq += 1
        return Context(seq=self.seq, ts=self._clock(), replay=replay, resync=resync)

    def _kernel_event(self, event: KernelEvent) -> None:
        ctx = self._next()
        before, self.state = self.state, apply(self.state, event)
        self._metrics.events.labels(type(event).__name__, "kernel").inc()
        log.info("event seq=%d %s", ctx.seq, describe_event(event, self.state))
        actions = react(before, self.state, event, ctx, self.config)
        actions += self._routing(before, event)
        kind, index, detail = event_detail(event)
        link = self.state.links.get(index) or before.links.get(index) if index else None
        self.events.add(
            EventRecord(
                ctx.seq,
                ctx.ts,
                kind,
                "kernel",
                index,
                link.name if link else None,
                detail,
                [a.directory for a in actions if isinstance(a, RunScripts)],
            )
        )
        self._run_actions(actions)

    def _snapshot(self, snap: KernelSnapshot) -> None:
        """Startup replay or overrun resync: the difference, as events, reacted to as a whole."""
        self._snapshot_kernel(snap)
        if not self._kernel_seen:
            self._kernel_seen = True
            held, self._held = self._held, []
            for event in held:
                self.handle(event)

    def _snapshot_kernel(self, snap: KernelSnapshot) -> None:
        replay = snap.reason == "startup" and not self.ready
        events = expand_snapshot(self.state, snap)
        ctx = self._next(replay=replay, resync=not replay)
        before, self.state = self.state, apply_all(self.state, events)
        for event in events:
            self._metrics.events.labels(type(event).__name__, "kernel").inc()
        log.info(
            "%s seq=%d links=%d addresses=%d routes=%d rules=%d changes=%d",
            "replay" if replay else "resync",
            ctx.seq,
            len(snap.links),
            len(snap.addrs),
            len(snap.routes),
            len(snap.rules),
            len(events),
        )
        kind = "replay" if replay else "resync"
        indexes = set(before.links) | set(self.state.links)
        actions = react_links(before, self.state, indexes, ctx, self.config, kind)
        if not replay:
            actions += react_resync_routes(before, self.state, ctx, self.config)
        actions += self._routing(before, None)
        detail = {
            "links": len(snap.links),
            "addresses": len(snap.addrs),
            "routes": len(snap.routes),
            "rules": len(snap.rules),
            "changes": len(events),
        }
        self.events.add(
            EventRecord(
                ctx.seq,
                ctx.ts,
                kind,
                "kernel",
                detail=detail,
                directories=[a.directory for a in actions if isinstance(a, RunScripts)],
            )
        )
        self._run_actions(actions)

    def _manager(
        self, event: ManagerSnapshot | ManagerLinkChanged | ManagerLinkRemoved | ManagerChanged
    ) -> None:
        if not self._kernel_seen:
            # A manager's replay needs the kernel's picture (addresses, gateways) first.
            self._held.append(event)
        elif isinstance(event, ManagerSnapshot):
            self._manager_snapshot(event)
        else:
            self._manager_event(event)

    def _manager_event(
        self, event: ManagerLinkChanged | ManagerLinkRemoved | ManagerChanged
    ) -> None:
        ctx = self._next()
        before, self.state = self.state, apply(self.state, event)
        self._metrics.events.labels(type(event).__name__, event.source).inc()
        actions = react_manager(before, self.state, event, ctx, self.config)
        index = getattr(event, "index", None)
        props = dict(getattr(event, "properties", ()))
        link = self.state.links.get(index) if index else None
        log.info(
            "event seq=%d kind=%s source=%s index=%s link=%r %s",
            ctx.seq,
            type(event).__name__,
            event.source,
            index,
            link.name if link else None,
            " ".join(f"{k}={v}" for k, v in props.items()),
        )
        self.events.add(
            EventRecord(
                ctx.seq,
                ctx.ts,
                "manager-link" if index else "manager",
                event.source,
                index,
                link.name if link else None,
                {"properties": props},
                [a.directory for a in actions if isinstance(a, RunScripts)],
            )
        )
        self._run_actions(actions)

    def _manager_snapshot(self, snap: ManagerSnapshot) -> None:
        replay = snap.source not in self._replayed
        self._replayed.add(snap.source)
        events = expand_manager_snapshot(self.state, snap)
        ctx = self._next(replay=replay, resync=not replay)
        before, self.state = self.state, apply_all(self.state, events)
        indexes = {i for i, _, _ in snap.links}
        actions = react_manager_links(before, self.state, snap.source, indexes, ctx, self.config)
        changed = tuple(k for e in events if isinstance(e, ManagerChanged) for k, _ in e.properties)
        if changed:
            actions += react_manager(
                before,
                self.state,
                ManagerChanged(
                    snap.source, tuple((k, self.state.manager[snap.source][k]) for k in changed)
                ),
                ctx,
                self.config,
            )
        log.info(
            "%s seq=%d source=%s links=%d changes=%d",
            "replay" if replay else "resync",
            ctx.seq,
            snap.source,
            len(snap.links),
            len(events),
        )
        self.events.add(
            EventRecord(
                ctx.seq,
                ctx.ts,
                "replay" if replay else "resync",
                snap.source,
                detail={"links": len(snap.links), "changes": len(events)},
                directories=[a.directory for a in actions if isinstance(a, RunScripts)],
            )
        )
        self._run_actions(actions)

    def _routing(self, before: State, event: KernelEvent | None) -> list[Action]:
        """Policy-routing actions for the transition to the current state (usually none)."""
        actions = routing_actions(before, self.state, event, self.config)
        self._metrics.routing_rules.set(len(owned_rules(self.state.rules)))
        self._metrics.routes.set(len(self.state.owned_routes))
        return actions

    def _source_status(self, event: SourceStatus) -> None:
        self.state = apply(self.state, event)
        ctx = self._next()
        self.events.add(
            EventRecord(
                ctx.seq,
                ctx.ts,
                "source",
                event.source,
                detail={"up": event.up, "detail": event.detail},
            )
        )
        self._metrics.source_up.labels(event.source).set(1 if event.up else 0)
        level = logging.INFO if event.up else logging.WARNING
        log.log(
            level,
            "source.%s source=%s detail=%r",
            "up" if event.up else "down",
            event.source,
            event.detail,
        )
        # READY needs the kernel's first dump; a manager only needs to have answered, up or
        # down, so a stopped networkd delays nothing (kernel events flow without it).
        answered = set(self.state.sources) if self.state.sources.get("netlink") else set()
        if not self.ready and self._required <= answered:
            self.ready = True
            log.info("ready sources=%s", ",".join(sorted(self._required)))
            if self._on_ready:
                self._on_ready()

    def _run_actions(self, actions: list[Action]) -> None:
        for action in self._outcomes.local(actions):
            self._dispatch(action)

    def resolve_coalesced(self, stub: RunScripts) -> RunScripts | None:
        """For the script executor: a routes.d run completed with the current picture."""
        actions = self._outcomes.local(resolve_routes(self.state, stub, self.config))
        runs = [a for a in actions if isinstance(a, RunScripts)]
        return runs[0] if runs else None

    def require_sources(self, names: Iterable[str]) -> None:
        """READY=1 also waits for these sources' first snapshot."""
        self._required |= set(names)

    def set_backend(self, backend: str) -> None:
        self.state = replace(self.state, backend=backend)
        self._metrics.set_backend(backend)
