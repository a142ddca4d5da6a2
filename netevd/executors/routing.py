"""The policy-routing executor: makes netevd's own rules and routes in the kernel match the plan.

Each reconcile reads what the kernel holds now (only objects tagged RTPROT_NETEVD), diffs it
against the newest plan (core.routing.diff) and applies the difference: routes before rules
when adding, rules before routes when removing, so a rule never points at an empty table.
EEXIST on add and ENOENT/ESRCH on delete count as success. A failed read changes nothing:
removing what one could not see is how other tools lost their users' routing.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netevd.core.actions import AssignTables, ReconcileRouting
from netevd.core.environment import link_name_problem
from netevd.core.events import Event, RoutingApplied, TablesAssigned
from netevd.core.model import RTPROT_NETEVD, Route, Rule
from netevd.core.routing import MAX_TABLE, RESERVED_TABLES, Plan, diff, route_id, rule_id
from netevd.executors.tasks import Spawn, create_task
from netevd.kernel.dump import read_owned
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.routing")

TABLES_FILE = "tables.json"
OK_ON_ADD = {errno.EEXIST}
OK_ON_DEL = {errno.ENOENT, errno.ESRCH}


def _split(prefix: str) -> tuple[str, int]:
    address, _, length = prefix.partition("/")
    return address, int(length)


def rule_spec(rule: Rule) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "family": rule.family,
        "priority": rule.priority,
        "table": rule.table,
        "protocol": RTPROT_NETEVD,
    }
    if rule.src:
        spec["src"], spec["src_len"] = _split(rule.src)
    if rule.dst:
        spec["dst"], spec["dst_len"] = _split(rule.dst)
    return spec


def route_spec(route: Route) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "family": route.family,
        "dst": route.dst,
        "table": route.table,
        "oif": route.oif,
        "proto": RTPROT_NETEVD,
        "scope": route.scope,
    }
    if route.gateway:
        spec["gateway"] = route.gateway
    if route.prefsrc:
        spec["prefsrc"] = route.prefsrc
    if route.priority:
        spec["priority"] = route.priority
    return spec


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
        self._state_dir = Path(state_dir)
        self._latest: ReconcileRouting | None = None
        self._worker: asyncio.Task[Any] | None = None
        self._installed: set[object] = set()  # ids of what this process has put in place
        self._announced: set[str] = set()

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
            async with AsyncIPRoute(flags=0) as ipr:
                rules, routes = await read_owned(ipr)
                changes = diff(plan, rules, routes)
                if not changes:
                    return
                errors: list[str] = []
                added_routes = await self._apply(ipr, "route", "add", changes.add_routes, errors)
                added_rules = await self._apply(ipr, "rule", "add", changes.add_rules, errors)
                removed_rules = await self._apply(ipr, "rule", "del", changes.del_rules, errors)
                removed_routes = await self._apply(ipr, "route", "del", changes.del_routes, errors)
        except (OSError, NetlinkError) as exc:
            # A failed read or a broken socket: change nothing, report, and wait for the next
            # event to try again.
            log.error("routing.read_failed error=%r (nothing changed)", str(exc))
            self._metrics.routing_reconciles.labels("error").inc()
            self._report(RoutingApplied(errors=(f"read failed: {exc}",)))
            return
        readded = self._track(added_routes + added_rules, removed_routes + removed_rules)
        self._metrics.routing_reconciles.labels("error" if errors else "applied").inc()
        applied = RoutingApplied(
            len(added_rules),
            len(removed_rules),
            len(added_routes),
            len(removed_routes),
            readded,
            tuple(errors),
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
        ipr: AsyncIPRoute,
        kind: str,
        command: str,
        objects: Iterable[Rule] | Iterable[Route],
        errors: list[str],
    ) -> list[Any]:
        done = []
        ok = OK_ON_ADD if command == "add" else OK_ON_DEL
        for obj in objects:
            text = describe_rule(obj) if isinstance(obj, Rule) else describe_route(obj)
            try:
                if isinstance(obj, Rule):
                    await ipr.rule(command, **rule_spec(obj))
                else:
                    await ipr.route(command, **route_spec(obj))
            except NetlinkError as exc:
                if exc.code not in ok:
                    errors.append(f"{kind} {command} {text}: {os.strerror(exc.code)}")
                    log.error(
                        "routing.%s.%s %s error=%r", kind, command, text, os.strerror(exc.code)
                    )
                    continue
            log.info("routing.%s.%s %s", kind, command, text)
            done.append(obj)
        return done

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
        try:
            await asyncio.to_thread(save_tables, self._state_dir, dict(action.tables))
        except OSError as exc:
            log.error(
                "routing.tables.save_failed dir=%s error=%r (tables may move on restart)",
                self._state_dir,
                str(exc),
            )
        self._report(TablesAssigned(action.tables))


def save_tables(state_dir: Path, tables: dict[str, int]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".tables-")
    with os.fdopen(fd, "w") as fh:
        json.dump({"version": 1, "tables": tables}, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, state_dir / TABLES_FILE)


def load_tables(state_dir: str) -> tuple[dict[str, int], list[str]]:
    """The persisted tables and the problems found; a bad file is reported, never fatal."""
    path = Path(state_dir) / TABLES_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, []
    except (OSError, ValueError) as exc:
        return {}, [f"{path}: cannot read ({exc}); starting without remembered tables"]
    raw = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return {}, [f"{path}: no 'tables' mapping; starting without remembered tables"]
    tables, problems = {}, []
    for name, table in raw.items():
        if (
            not isinstance(name, str)
            or link_name_problem(name)
            or not isinstance(table, int)
            or isinstance(table, bool)
            or table in RESERVED_TABLES
            or not 1 <= table <= MAX_TABLE
        ):
            problems.append(f"{path}: ignoring entry {name!r}: {table!r}")
            continue
        tables[name] = table
    return tables, problems
