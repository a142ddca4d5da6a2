"""When the policy-routing plan needs applying (pure).

After any event that can change the plan or netevd's own objects in the kernel, the plan is
recomputed and compared with what netevd owns; a difference (an address came, a gateway
changed, networkd deleted netevd's rules) yields one ReconcileRouting with the whole plan.
"""

from __future__ import annotations

from netevd.core.actions import Action, AssignTables, Note, ReconcileRouting
from netevd.core.config import Config
from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    Event,
    LinkChanged,
    LinkRemoved,
    NeighbourChanged,
    NeighbourRemoved,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
)
from netevd.core.model import RT_TABLE_MAIN, RTPROT_NETEVD
from netevd.core.routing import (
    RESERVED_TABLES,
    allocate_tables,
    desired,
    diff,
    foreign_tables,
    is_policy_link,
    owned_rules,
)
from netevd.core.state import State


def _policy_index(state: State, index: int, config: Config) -> bool:
    link = state.links.get(index)
    return link is not None and is_policy_link(link.name, config)


def relevant(before: State, after: State, event: Event, config: Config) -> bool:
    """Whether *event* can change the plan or what netevd owns."""
    match event:
        case LinkChanged(link):
            return _policy_index(before, link.index, config) or is_policy_link(link.name, config)
        case LinkRemoved(index):
            return _policy_index(before, index, config)
        case AddressAdded(addr) | AddressRemoved(addr):
            return _policy_index(after, addr.index, config)
        case RouteAdded(route) | RouteRemoved(route):
            gateway_change = route.table == RT_TABLE_MAIN and route.is_default
            return route.protocol == RTPROT_NETEVD or (
                gateway_change and _policy_index(after, route.oif, config)
            )
        case RuleAdded(rule) | RuleRemoved(rule):
            return rule.protocol == RTPROT_NETEVD
        case NeighbourChanged() | NeighbourRemoved():
            return False  # gateway liveness (routing.failover is not built yet)
    return True


def given_up(state: State, tables: dict[str, int]) -> list[Action]:
    """A note for each remembered table left because it became reserved or foreign."""
    avoid = foreign_tables(state) | RESERVED_TABLES
    return [
        Note(
            f"routing.table.given_up link={name} table={old} new_table={tables[name]} "
            "(it holds routes netevd does not own, or is reserved)",
            warning=True,
        )
        for name, old in sorted(state.tables.items())
        if name in tables and tables[name] != old and old in avoid
    ]


def routing_actions(
    before: State, after: State, event: Event | None, config: Config
) -> list[Action]:
    """The table assignment and reconcile the state calls for (none when all is in place).

    *event* None means "re-check regardless" (a snapshot, a reload, start-up)."""
    if not config.routing.policy_rules and not owned_rules(after.rules) and not after.owned_routes:
        return []
    if event is not None and not relevant(before, after, event, config):
        return []
    tables = allocate_tables(after, config)
    actions: list[Action] = []
    if any(after.tables.get(name) != table for name, table in tables.items()):
        pinned = dict(config.routing.tables)
        moved = tuple(
            name
            for name, table in tables.items()
            if name not in pinned
            and (link := after.link_by_name(name)) is not None
            and table != config.routing.table_base + link.index
        )
        merged = {**after.tables, **tables}
        actions += given_up(after, tables)
        actions.append(AssignTables(tuple(sorted(merged.items())), moved))
    plan = desired(after, config, tables)
    if diff(plan, after.rules, after.owned_routes):
        actions.append(ReconcileRouting(plan.rules, plan.routes))
    return actions
