"""``react``: from a transition of the state to the actions it calls for (pure)."""

from __future__ import annotations

import fnmatch
import functools
import heapq
import json
from collections.abc import Iterable, Mapping

from netevd.core.actions import Action, Note, RejectLink, RunScripts
from netevd.core.config import Config, MonitoringConfig
from netevd.core.directories import KERNEL_STATE_DIRECTORIES, Directory
from netevd.core.environment import MAX_VALUE, env_bytes, link_name_problem, validated
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
from netevd.core.filters import Subject, decide
from netevd.core.kinds import EventKind
from netevd.core.model import RT_TABLE_LOCAL, RTPROT_NETEVD, Route
from netevd.core.routing import allocate_tables, is_policy_link
from netevd.core.state import State, touched_links
from netevd.core.views import LinkView, has_route_out, kernel_state, view

MAX_JSON_ROUTES = 256

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


@functools.lru_cache(maxsize=4096)  # asked for every event of a storm; names are few
def monitored(name: str, monitoring: MonitoringConfig) -> bool:
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in monitoring.exclude):
        return False
    if not monitoring.interfaces:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in monitoring.interfaces)


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


def apply_filters(actions: list[Action], config: Config) -> list[Action]:
    """Drop the runs that ``filters`` ignore; note the ones a ``log`` filter matched."""
    if not config.filters:
        return actions
    kept: list[Action] = []
    for action in actions:
        if not isinstance(action, RunScripts):
            kept.append(action)
            continue
        env = action.env_dict()
        subject = Subject(
            interface=action.link_name,
            event_type=action.directory,
            backend=env.get("BACKEND", ""),
            addresses=tuple(env.get("ADDRESSES", "").split()),
            has_gateway=bool(env.get("GATEWAY") or env.get("GATEWAY6") or env.get("DHCP_GATEWAY")),
            dns_count=len(env.get("DHCP_DNS", "").split()),
        )
        run, logged = decide(config.filters, subject)
        kept += [
            Note(
                f"filter.matched index={i} link={action.link_name} dir={action.directory} "
                f"seq={action.seq}"
            )
            for i in logged
        ]
        if run:
            kept.append(action)
        else:
            kept.append(
                Note(
                    f"filter.ignored link={action.link_name} dir={action.directory} "
                    f"seq={action.seq}"
                )
            )
    return kept


def react_links(
    before: State,
    after: State,
    indexes: Iterable[int],
    ctx: Context,
    config: Config,
    kind: str,
) -> list[Action]:
    """Carrier and state transitions of *indexes* between *before* and *after*."""
    if ctx.replay and not config.scripts.run_startup_triggers:
        return []
    actions: list[Action] = []
    for index in sorted(indexes):
        actions += _link_transition(before, after, index, ctx, config, kind)
    return apply_filters(actions, config)


def react_resync_routes(before: State, after: State, ctx: Context, config: Config) -> list[Action]:
    """After an overrun, routes.d once for every link whose routes changed while unseen."""
    actions: list[Action] = []
    for index in sorted(set(before.routes) | set(after.routes)):
        old = {k: r for k, r in before.routes.get(index, {}).items() if _fires_routes(r)}
        new = {k: r for k, r in after.routes.get(index, {}).items() if _fires_routes(r)}
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


def policy_env(state: State, name: str, config: Config) -> dict[str, str]:
    """``TABLE`` for interfaces under policy routing."""
    if not is_policy_link(name, config):
        return {}
    # Before the first assignment is recorded (the startup replay), the allocation it will
    # record is the one the scripts must see.
    table = state.tables.get(name) or allocate_tables(state, config).get(name)
    return {"TABLE": str(table)} if table is not None else {}


def _fires_routes(route: Route) -> bool:
    return route.table != RT_TABLE_LOCAL and route.protocol != RTPROT_NETEVD


def _route_actions(
    after: State, route: Route, ctx: Context, config: Config, kind: str
) -> list[Action]:
    if not route.oif or not _fires_routes(route) or ctx.replay:
        return []
    return _routes_stub(after, route.oif, ctx, config, kind)


def _routes_stub(state: State, index: int, ctx: Context, config: Config, kind: str) -> list[Action]:
    """A coalesced routes.d run, to be completed when its quiet window ends (resolve_routes):
    building the environment for each of a storm's thousand route events would be wasted on
    all but the last, and would cost the whole link's routes every time."""
    link = state.links.get(index)
    if link is None or link_name_problem(link.name) or not monitored(link.name, config.monitoring):
        return []
    return [
        RunScripts(
            directory=Directory.ROUTES.value,
            link_index=index,
            link_name=link.name,
            env=(("EVENT", kind),),
            seq=ctx.seq,
            replay=ctx.replay,
            coalesce=True,
            event_ts=ctx.ts,
        )
    ]


def resolve_routes(state: State, stub: RunScripts, config: Config) -> list[Action]:
    """The routes.d run for *stub*, with the picture of *state* (the state when the quiet
    window ended), filtered; nothing when the link has gone or may not run scripts. The run
    is complete (coalesce off): the executor queues it as it is."""
    current = _scriptable(state, stub.link_index, config)
    if current is None:
        return []
    ctx = Context(seq=stub.seq, ts=stub.event_ts, replay=stub.replay)
    kind = stub.env_dict().get("EVENT", "new")
    extra = policy_env(state, current.link.name, config)
    run = script_run(current, Directory.ROUTES, KERNEL, ctx, kind, state, extra=extra)
    return apply_filters([run], config)


def script_run(
    current: LinkView,
    directory: Directory,
    backend: str,
    ctx: Context,
    kind: str,
    state: State,
    *,
    extra: Mapping[str, str] | None = None,
    document: Mapping[str, object] | None = None,
) -> RunScripts:
    """The run of *directory* for the link of *current*: design.md §3's environment plus
    *extra*, NETEVD_JSON with the backend's *document* sections; every value validated."""
    link = current.link
    values = _common_env(current, directory, backend, ctx, kind)
    values["NETEVD_JSON"] = event_document(current, directory, backend, ctx, kind, state, document)
    values.update(extra or {})
    files = tuple(large_values(values))
    env, dropped = validated(values)
    return RunScripts(
        directory=directory.value,
        link_index=link.index,
        link_name=link.name,
        env=env,
        seq=ctx.seq,
        replay=ctx.replay,
        dropped=dropped,
        event_ts=ctx.ts,
        files=files,
    )


def _common_env(
    current: LinkView, directory: Directory, backend: str, ctx: Context, kind: str
) -> dict[str, str]:
    link = current.link
    return {
        "LINK": link.name,
        "LINKINDEX": str(link.index),
        "STATE": directory.value,
        "BACKEND": backend,
        "GENERATOR": backend,
        "ADDRESSES": " ".join(a.split("/")[0] for a in current.addresses),
        "GATEWAY": current.gateway,
        "GATEWAY6": current.gateway6,
        "EVENT": "replay" if ctx.replay else kind,
        "NETEVD_SEQ": str(ctx.seq),
        "NETEVD_REPLAY": "1" if ctx.replay else "0",
    }


def large_values(values: dict[str, str]) -> list[tuple[str, str]]:
    """A manager's ``JSON`` too large for the environment goes by file (NETEVD_JSON_FILE)."""
    value = values.get("JSON", "")
    if env_bytes("JSON", value) <= MAX_VALUE or not _is_json(value):
        return []
    del values["JSON"]
    return [("NETEVD_JSON_FILE", value)]


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def event_document(
    current: LinkView,
    directory: Directory,
    backend: str,
    ctx: Context,
    kind: str,
    state: State,
    sections: Mapping[str, object] | None = None,
) -> str:
    """``NETEVD_JSON``: the versioned netevd event document (schema netevd.event.v1)."""
    link = current.link
    doc: dict[str, object] = {
        "schema": "netevd.event.v1",
        "seq": ctx.seq,
        "ts": round(ctx.ts, 6),
        "event": "replay" if ctx.replay else kind,
        "replay": ctx.replay,
        "state": directory.value,
        "backend": backend,
        "link": {
            "name": link.name,
            "index": link.index,
            "mtu": link.mtu,
            "mac": link.mac,
            "kind": link.kind,
            "operstate": link.operstate,
            "flags": link.flag_names(),
            "carrier": link.carrier,
        },
        "addresses": list(current.addresses),
        "gateway": current.gateway or None,
        "gateway6": current.gateway6 or None,
        "kernel_state": current.kernel_state,
    }
    if directory is Directory.ROUTES:
        doc["route_count"], doc["routes"] = _routes_doc(state, link.index)
    doc.update(sections or {})
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _routes_doc(state: State, index: int) -> tuple[int, list[dict[str, object]]]:
    """How many routes the link has (routes.d's kind), and the first MAX_JSON_ROUTES in order.
    The first ones are picked, not the whole table sorted: a full table has a million."""
    fired = [r for r in state.link_routes(index) if _fires_routes(r)]
    first = heapq.nsmallest(MAX_JSON_ROUTES, fired, key=_route_order)
    return len(fired), [
        {
            "dst": r.dst,
            "gateway": r.gateway or None,
            "table": r.table,
            "protocol": r.protocol,
            "metric": r.priority,
        }
        for r in first
    ]


def _route_order(route: Route) -> tuple[int, int, str, int]:
    return (route.family, route.table, route.dst, route.priority)
