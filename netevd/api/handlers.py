"""The REST handlers: each reads the published snapshot through the DaemonView and answers with
the envelope ``{"success", "data", "error", "timestamp"}``.

Bad input raises ParamError (a 400 with its message); anything unexpected is turned into a 500
without a traceback by the middleware in netevd.api.app.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from netevd.api import documents as docs
from netevd.api.params import EventQuery, RouteQuery, RuleQuery
from netevd.api.view import DaemonView
from netevd.core.follow import route_follow

log = logging.getLogger("netevd.api")


@dataclass(frozen=True)
class ApiSettings:
    """How the server was started (fixed until restart; a reload does not rebind)."""

    bind_address: str
    port: int
    socket: str = ""
    token: str = ""
    token_problem: str = ""  # why api.token_file could not be used ("" when fine)
    metrics: bool = True
    heartbeat: float = 15.0  # seconds between SSE comment lines on a quiet stream
    allowed_hosts: frozenset[str] = frozenset()  # Host names answered (netevd.api.guard)
    max_streams: int = 32  # SSE clients at a time

    @property
    def loopback(self) -> bool:
        if self.bind_address == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.bind_address).is_loopback
        except ValueError:
            return False


VIEW = web.AppKey("view", DaemonView)
SETTINGS = web.AppKey("settings", ApiSettings)
OPENAPI = web.AppKey("openapi", bytes)


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def envelope(
    data: object, *, status: int = 200, error: str | None = None, headers: Any = None
) -> web.Response:
    body = {
        "success": error is None,
        "data": data,
        "error": error,
        "timestamp": docs.now_iso(),
    }
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def failure(status: int, message: str, *, data: object = None, headers: Any = None) -> web.Response:
    return envelope(data, status=status, error=message, headers=headers)


# --- authorization ---------------------------------------------------------------------------


def _over_unix_socket(request: web.Request) -> bool:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    return sock is not None and sock.family == socket.AF_UNIX


def write_refusal(request: web.Request, settings: ApiSettings) -> web.Response | None:
    """None when *request* may change the daemon; otherwise the 401/403 to answer with.

    The unix socket is guarded by its file mode. Over TCP a configured token is always
    required; without one, only a loopback-bound API accepts changes.
    """
    if _over_unix_socket(request):
        return None
    if settings.token_problem:
        return failure(403, f"mutating endpoints are disabled: {settings.token_problem}")
    if not settings.token:
        if settings.loopback:
            return None
        return failure(
            403,
            f"mutating endpoints are disabled: the API listens on {settings.bind_address}, "
            "beyond loopback, and no token is configured; set api.token or api.token_file",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Bytes, not str: compare_digest refuses non-ASCII str, and a 500 would tell an attacker
    # more than a 401 does.
    offered = given.strip().encode("utf-8", "surrogateescape")
    if scheme.lower() == "bearer" and hmac.compare_digest(offered, settings.token.encode()):
        return None
    return failure(
        401,
        "this endpoint needs the API token: send the header 'Authorization: Bearer <api.token>'",
        headers={"WWW-Authenticate": 'Bearer realm="netevd"'},
    )


# --- handlers ----------------------------------------------------------------------------------


async def status(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    return envelope(
        docs.status_document(
            view.state,
            view.events,
            ready=view.ready,
            started=view.started,
            scripts=view.script_counts(),
            routes_followed=route_follow(view.config).describe(),
        )
    )


async def interfaces(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    return envelope(
        docs.links_documents(
            view.state,
            view.events,
            view.routing_tables(),
            view.config.monitoring,
        )
    )


async def interface(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    name = request.match_info["name"]
    state = view.state
    link = state.link_by_name(name)
    if link is None:
        return failure(404, f"no interface named {name!r}")
    (document,) = docs.links_documents(
        state,
        view.events,
        view.routing_tables(),
        view.config.monitoring,
        only=link,
    )
    return envelope(document)


async def routes(request: web.Request) -> web.Response:
    query = RouteQuery.parse(request.query)
    state = request.app[VIEW].state
    indexes = {i for i, link in state.links.items() if link.name == query.interface}
    found = [
        r
        for r in state.all_routes()
        if (query.table is None or r.table == query.table)
        and (query.family is None or r.family == query.family)
        and (query.interface is None or r.oif in indexes)
    ]
    found.sort(key=docs.route_sort_key)
    return envelope([docs.route_document(r, state) for r in found])


async def rules(request: web.Request) -> web.Response:
    query = RuleQuery.parse(request.query)
    state = request.app[VIEW].state
    found = [
        r
        for r in state.rules
        if (query.table is None or r.table == query.table)
        and (query.family is None or r.family == query.family)
    ]
    found.sort(key=docs.rule_sort_key)
    return envelope([docs.rule_document(r) for r in found])


async def events(request: web.Request) -> web.Response:
    query = EventQuery.parse(request.query)
    log = request.app[VIEW].events
    # Without since: the newest `limit`. With since: the oldest `limit` after it, so a client
    # paging forward from its last seq misses nothing.
    limit = query.limit if query.since is None else log.capacity
    records = log.query(limit=limit, since=query.since, interface=query.interface, type_=query.type)
    if query.since is not None:
        records = records[: query.limit]
    return envelope([docs.event_document(r.to_dict()) for r in records])


async def history(request: web.Request) -> web.Response:
    """The last hour for the dashboard's plots, kept beside the event ring buffer."""
    return envelope(request.app[VIEW].events.history.document())


async def scripts(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    verdicts = await view.scan_scripts()
    config = view.config
    return envelope(
        docs.scripts_document(config.system.script_dirs, verdicts, config.compat.trees())
    )


async def reload(request: web.Request) -> web.Response:
    refusal = write_refusal(request, request.app[SETTINGS])
    if refusal is not None:
        return refusal
    # Shielded: a client that hangs up must not cancel a reload halfway.
    result = await asyncio.shield(request.app[VIEW].reload())
    data = {
        "reloaded": result.ok,
        "source": result.source,
        "errors": list(result.errors),
        "warnings": list(result.warnings),
    }
    if result.ok:
        log.info("api.reload source=%s", result.source)
        return envelope(data)
    message = "the new configuration was rejected; the running one is kept: "
    return failure(422, message + "; ".join(result.errors), data=data)


async def health(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    checks = docs.health_checks(view.state, view.ready)
    if view.config.routing.policy_rules:
        conflicts = view.routing_conflicts()
        checks["routing"] = "ok" if not conflicts else "; ".join(conflicts)
    failing = [name for name, value in checks.items() if value != "ok"]
    # Degraded: the work goes on (200), but an operator should look (a full state_dir, a
    # refused reload).
    degraded = dict(view.degraded())
    checks.update(degraded)
    status = "unhealthy" if failing else "degraded" if degraded else "healthy"
    data = {"status": status, "checks": checks, "failing": failing, "degraded": list(degraded)}
    if failing:
        problems = ", ".join(f"{name} {checks[name]}" for name in failing)
        return failure(503, f"unhealthy: {problems}", data=data)
    return envelope(data)


async def metrics(request: web.Request) -> web.Response:
    if not request.app[SETTINGS].metrics:
        return failure(404, "metrics are disabled (metrics.enabled: false)")
    # Here, not at the top: with metrics off, prometheus_client is never loaded.
    from prometheus_client import CONTENT_TYPE_LATEST

    body = request.app[VIEW].metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")
