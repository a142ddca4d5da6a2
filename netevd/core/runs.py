"""How a script run is built: design.md §3's environment, the ``netevd.event.v1`` document
(``NETEVD_JSON``), large values by file, the policy-routing ``TABLE`` and the filters, for every
reaction module (the kernel's, the managers', dhcp's, compat's) alike."""

from __future__ import annotations

import heapq
import json
from collections.abc import Mapping
from dataclasses import replace

from netevd.core.actions import Action, Note, RunScripts
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.environment import MAX_VALUE, env_bytes, validated
from netevd.core.events import Context
from netevd.core.filters import Subject, decide
from netevd.core.kinds import EventKind
from netevd.core.model import RT_TABLE_LOCAL, RTPROT_NETEVD, Route
from netevd.core.routing import allocate_tables, is_policy_link
from netevd.core.state import State
from netevd.core.views import LinkView

MAX_JSON_ROUTES = 256


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
    if ctx.replay and directory in ctx.unscripted:
        # Building the environment and the document of every link's replay run is most of a
        # large host's start; for a directory with no script they would run nothing.
        return RunScripts(
            directory, link.index, link.name, (), ctx.seq, True, event_ts=ctx.ts, built=False
        )
    values = _common_env(current, directory, backend, ctx, kind)
    values["NETEVD_JSON"] = event_document(current, directory, backend, ctx, kind, state, document)
    values.update(extra or {})
    files = tuple(large_values(values))
    env, dropped = validated(values)
    return RunScripts(
        directory=directory,
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


def unscripted_replay(ctx: Context, unscripted: frozenset[str], config: Config) -> Context:
    """*ctx* of the kernel's startup replay, told which directories held no entry at start.
    Not with filters or compat: their notes and the compat runs read each run's environment."""
    compat = config.compat
    if not ctx.replay or config.filters or compat.networkd_dispatcher or compat.nm_dispatcher:
        return ctx
    return replace(ctx, unscripted=unscripted)


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
    *,
    state_name: str | None = None,
) -> str:
    """``NETEVD_JSON``, schema netevd.event.v1; ``state`` is *state_name* or the directory's."""
    link = current.link
    doc: dict[str, object] = {
        "schema": "netevd.event.v1",
        "seq": ctx.seq,
        "ts": round(ctx.ts, 6),
        "event": "replay" if ctx.replay else kind,
        "replay": ctx.replay,
        "state": state_name or directory.value,
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
    fired = [r for r in state.link_routes(index) if fires_routes(r)]
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


def manager_document(
    source: str, manager: Mapping[str, str], changed: list[str], ctx: Context
) -> str:
    """The event document of a manager-level change (manager.d, and NetworkManager-dispatcher's
    connectivity-change and hostname)."""
    doc = {
        "schema": "netevd.event.v1",
        "seq": ctx.seq,
        "ts": round(ctx.ts, 6),
        "event": EventKind.REPLAY.value if ctx.replay else EventKind.MANAGER.value,
        "replay": ctx.replay,
        "state": "manager",
        "backend": source,
        "manager": dict(manager),
        "changed": changed,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def json_object(text: str) -> dict[str, object]:
    """*text* as a JSON object; {} for "" or anything else (the source already checked it): how
    the compat runs read networkd's Describe() text and NetworkManager's DHCP options."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def policy_env(state: State, name: str, config: Config) -> dict[str, str]:
    """``TABLE`` for interfaces under policy routing."""
    if not is_policy_link(name, config):
        return {}
    # Before the first assignment is recorded (the startup replay), the allocation it will
    # record is the one the scripts must see.
    table = state.tables.get(name) or allocate_tables(state, config).get(name)
    return {"TABLE": str(table)} if table is not None else {}


def fires_routes(route: Route) -> bool:
    return route.table != RT_TABLE_LOCAL and route.protocol != RTPROT_NETEVD


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
