"""The policy-routing executor: makes netevd's own rules and routes in the kernel match the plan.

Each reconcile reads what the kernel holds now (only objects tagged RTPROT_NETEVD), diffs it
against the newest plan (core.routing.diff) and applies the difference: routes before rules
when adding, rules before routes when removing, so a rule never points at an empty table.
ENOENT/ESRCH on delete count as success; EEXIST on add only when the route read back is
netevd's own: one that is not is a conflict (logged, counted, named by ``/health``), never
success. A failed read changes nothing: removing what one could not see is how other tools lost
their users' routing.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from netevd.core.actions import AssignTables, ReconcileRouting
from netevd.core.events import Event, RoutingApplied, TablesAssigned
from netevd.core.model import RTPROT_NETEVD, Route, Rule
from netevd.core.routing import Changes, Plan, diff, route_id, rule_id
from netevd.executors.state_file import TablesFile
from netevd.executors.tasks import Spawn, create_task
from netevd.kernel import rtnl
from netevd.kernel.snapshot import read_owned, routes_of
from netevd.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from netevd.executors.route_writes import KernelWriter

log = logging.getLogger("netevd.routing")

OK_ON_ADD = {errno.EEXIST}
OK_ON_DEL = {errno.ENOENT, errno.ESRCH}
CONFLICT = "conflict: route"


class Written(NamedTuple):
    """What one reconcile changed in the kernel."""

    added_rules: list[Rule]
    removed_rules: list[Rule]
    added_routes: list[Route]
    removed_routes: list[Route]


def describe_rule(rule: Rule) -> str:
    match = f"from {rule.src}" if rule.src else f"to {rule.dst}"
    return f"{match} lookup {rule.table} priority {rule.priority}"


def describe_route(route: Route) -> str:
    via = f" via {route.gateway}" if route.gateway else ""
    return f"{route.dst}{via} dev#{route.oif} table {route.table}"


class RoutingExecutor:
    def __init__(
        self,
        report: Callable[[Event], None],
        metrics: Metrics,
        state_dir: str,
        *,
        spawn: Spawn = create_task,
    ) -> None:
        self._report = report
        self._spawn = spawn  # the daemon's supervisor holds the tasks
        self._metrics = metrics
        self.tables_file = TablesFile(Path(state_dir), metrics, spawn=spawn)
        self._latest: ReconcileRouting | None = None
        self._worker: asyncio.Task[Any] | None = None
        self._installed: set[object] = set()  # ids of what this process has put in place
        self._announced: set[str] = set()
        self.conflicts: tuple[str, ...] = ()  # routes in the way at the last reconcile

    def submit(self, action: ReconcileRouting | AssignTables) -> None:
        if isinstance(action, AssignTables):
            self._spawn(self._assign(action), "routing-tables")
            return
        self._latest = action  # the newest plan wins; older ones are never applied
        if self._worker is None or self._worker.done():
            self._worker = self._spawn(self._drain(), "routing")

    async def idle(self) -> None:
        while self._worker is not None and not self._worker.done():
            await asyncio.wait({self._worker})

    async def _drain(self) -> None:
        while self._latest is not None:
            plan, self._latest = self._latest, None
            try:
                await self._reconcile(Plan(plan.rules, plan.routes))
            except Exception:  # the next plan must still be applied
                log.exception("routing.failed")

    async def _reconcile(self, plan: Plan) -> None:
        try:
            with rtnl.open_socket() as sock:
                rules, routes = await read_owned(sock)
            changes = diff(plan, rules, routes)
            if not changes:
                return
            errors: list[str] = []
            written = await self._write(changes, errors)
        except OSError as exc:
            # A failed read or a broken socket: change nothing, report, and wait for the next
            # event to try again.
            log.error("routing.read_failed error=%r (nothing changed)", str(exc))
            self._metrics.routing_reconciles.labels("error").inc()
            self._report(RoutingApplied(errors=(f"read failed: {exc}",)))
            return
        self._applied(written, errors)

    async def _write(self, changes: Changes, errors: list[str]) -> Written:
        """Routes before rules when adding, rules before routes when removing."""
        # pyroute2 only now: a daemon that never has anything to write never loads it.
        from netevd.executors.route_writes import KernelWriter

        async with KernelWriter() as writer:
            added_routes = await self._add_routes(writer, changes.add_routes, errors)
            added_rules = await self._apply(writer, "rule", "add", changes.add_rules, errors)
            removed_rules = await self._apply(writer, "rule", "del", changes.del_rules, errors)
            removed_routes = await self._apply(writer, "route", "del", changes.del_routes, errors)
        return Written(added_rules, removed_rules, added_routes, removed_routes)

    def _applied(self, written: Written, errors: list[str]) -> None:
        added_rules, removed_rules, added_routes, removed_routes = written
        readded = self._track([*added_routes, *added_rules], [*removed_routes, *removed_rules])
        conflicts = tuple(e for e in errors if e.startswith(CONFLICT))
        self._metrics.routing_reconciles.labels("error" if errors else "applied").inc()
        applied = RoutingApplied(
            len(added_rules),
            len(removed_rules),
            len(added_routes),
            len(removed_routes),
            readded,
            tuple(e for e in errors if not e.startswith(CONFLICT)),
            conflicts,
        )
        log.info(
            "routing.applied added_rules=%d removed_rules=%d added_routes=%d "
            "removed_routes=%d readded=%d errors=%d",
            *(applied.added_rules, applied.removed_rules, applied.added_routes),
            *(applied.removed_routes, readded, len(errors)),
        )
        self._report(applied)

    def _track(self, added: list[Rule | Route], removed: list[Rule | Route]) -> int:
        ids = [rule_id(o) if isinstance(o, Rule) else route_id(o) for o in added]
        readded = sum(1 for i in ids if i in self._installed)
        if readded:
            log.info(
                "routing.readded count=%d (netevd's objects had gone: the kernel drops routes "
                "of a link set down, networkd drops foreign rules when it reconfigures)",
                readded,
            )
        self._installed |= set(ids)
        self._installed -= {rule_id(o) if isinstance(o, Rule) else route_id(o) for o in removed}
        return readded

    async def _apply(
        self,
        writer: KernelWriter,
        kind: str,
        command: str,
        objects: Iterable[Rule] | Iterable[Route],
        errors: list[str],
        existed: list[Route] | None = None,
    ) -> list[Any]:
        done: list[Rule | Route] = []
        ok = OK_ON_ADD if command == "add" else OK_ON_DEL
        for obj in objects:
            text = describe_rule(obj) if isinstance(obj, Rule) else describe_route(obj)
            code = await writer.write(command, obj)
            if code == errno.EEXIST and existed is not None and isinstance(obj, Route):
                existed.append(obj)  # whose route is there is read back by the caller
                done.append(obj)
                continue
            if code and code not in ok:
                errors.append(f"{kind} {command} {text}: {os.strerror(code)}")
                log.error("routing.%s.%s %s error=%r", kind, command, text, os.strerror(code))
                continue
            log.info("routing.%s.%s %s", kind, command, text)
            done.append(obj)
        return done

    async def _add_routes(
        self, writer: KernelWriter, routes: Iterable[Route], errors: list[str]
    ) -> list[Any]:
        """Add *routes*; one whose EEXIST is a route netevd does not own is a conflict."""
        existed: list[Route] = []
        added = await self._apply(writer, "route", "add", routes, errors, existed)
        conflicts: list[str] = []
        for route in existed:
            foreign = await _route_in_the_way(route)
            if foreign is None:
                log.info("routing.route.present %s", describe_route(route))
            else:
                added.remove(route)
                conflicts.append(f"{CONFLICT} {describe_route(route)}: the kernel holds {foreign}")
        self._report_conflicts(conflicts)
        errors.extend(conflicts)
        return added

    def _report_conflicts(self, conflicts: list[str]) -> None:
        for conflict in conflicts:
            if conflict not in self.conflicts:  # once per conflict, not per event
                log.error("routing.%s", conflict)
                self._metrics.routing_conflicts.inc()
        self.conflicts = tuple(conflicts)

    async def cleanup(self) -> None:
        """Remove every rule and route netevd owns (``routing.cleanup_on_exit``)."""
        self._latest = None
        await self.idle()
        await self._reconcile(Plan(frozenset(), frozenset()))

    # -- tables ------------------------------------------------------------------------------

    async def _assign(self, action: AssignTables) -> None:
        for name in action.moved:
            table = dict(action.tables)[name]
            if name not in self._announced:
                self._announced.add(name)
                log.warning(
                    "routing.table link=%s table=%d (table_base + ifindex is reserved "
                    "or holds routes netevd does not own; kept for this link)",
                    name,
                    table,
                )
        await self.tables_file.save(dict(action.tables))
        self._report(TablesAssigned(action.tables))


async def _route_in_the_way(route: Route) -> str | None:
    """After an add: None when the kernel's route at that place is netevd's own, else it.

    The kernel answers EEXIST for a route with the same table, destination and metric
    whoever owns it, so EEXIST alone says nothing about whose route is there.
    """
    with rtnl.open_socket() as sock:
        in_table = await routes_of(sock, route.family, route.table)
    found = [r for r in in_table if r.dst == route.dst and r.priority == route.priority]
    for other in found:
        if other.protocol == RTPROT_NETEVD and route_id(other) == route_id(route):
            return None
    others = [r for r in found if r.protocol != RTPROT_NETEVD]
    if not others:
        return None  # gone meanwhile: the next reconcile adds it
    other = others[0]
    return f"{describe_route(other)} proto {other.protocol}"
