"""The OpenAPI 3.1 document served at /api/v1/openapi.json, built from the same constants the
handlers validate with (limits, event types, families), so the two cannot drift apart.

A unit test checks that its paths are exactly the server's routes; schemathesis checks, against
a running daemon, that the answers match it.
"""

from __future__ import annotations

from typing import Any

from netevd import __version__
from netevd.api.openapi_history import HISTORY
from netevd.api.params import EVENT_TYPES, FAMILY_VALUES, LIMIT_MAX, SEQ_MAX, TABLE_MAX
from netevd.core.directories import Directory
from netevd.core.kinds import KINDS
from netevd.core.trees import NM_DISPATCHER_DIRECTORY, TREES

Schema = dict[str, Any]

JSON = "application/json"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> Schema:
    return {"type": [kind, "null"], **extra}


def _object(properties: dict[str, Schema], *, extra: bool = True) -> Schema:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": extra,
    }


INT: Schema = {"type": "integer"}
STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
NUM: Schema = {"type": "number"}
STRINGS: Schema = {"type": "array", "items": STR}
DIRECTORY: Schema = {"type": "string", "enum": [d.value for d in Directory]}
TREE: Schema = {"type": "string", "enum": list(TREES)}
COUNTS: tuple[str, ...] = (
    "interfaces",
    "addresses",
    "routes",
    "rules",
    "events",
    "events_buffered",
)
COUNTS += ("scripts_run", "scripts_failed")


def _event_schemas() -> dict[str, Schema]:
    script_run = _object(
        {
            "script": STR,
            "directory": DIRECTORY,
            "exit_code": _nullable("integer"),
            "duration": NUM,
            "timed_out": BOOL,
            "error": STR,
            "output": STR,
        }
    )
    event = _object(
        {
            "seq": {"type": "integer", "minimum": 1},
            "ts": NUM,
            "time": {"type": "string", "format": "date-time"},
            "type": {"type": "string", "enum": list(KINDS)},
            "source": STR,
            "link_index": _nullable("integer"),
            "link_name": _nullable("string"),
            "detail": {"type": "object"},
            "directories": {"type": "array", "items": DIRECTORY},
            "scripts": {"type": "array", "items": _ref("ScriptRun")},
        }
    )
    return {"ScriptRun": script_run, "Event": event}


def _link_schemas() -> dict[str, Schema]:
    address = _object(
        {
            "address": STR,
            "prefixlen": INT,
            "family": {"type": "string", "enum": ["inet", "inet6"]},
            "scope": STR,
            "link_local": BOOL,
        }
    )
    interface = _object(
        {
            "ifindex": INT,
            "name": STR,
            "kind": _nullable("string"),
            "mac": _nullable("string"),
            "mtu": INT,
            "flags": STRINGS,
            "carrier": BOOL,
            "admin_up": BOOL,
            "operstate": STR,
            "kernel_state": {
                "type": "string",
                "enum": ["off", "no-carrier", "carrier", "degraded", "routable"],
            },
            "master": _nullable("integer"),
            "monitored": BOOL,
            "addresses": {"type": "array", "items": _ref("Address")},
            "gateway": _nullable("string"),
            "gateway6": _nullable("string"),
            "gateway_reachable": _nullable("boolean"),
            "table": _nullable("integer"),
            "backends": {"type": "object", "additionalProperties": {"type": "object"}},
            "events": {"type": "array", "items": _ref("Event")},
        }
    )
    return {"Address": address, "Interface": interface}


def _routing_schemas() -> dict[str, Schema]:
    route = _object(
        {
            "family": STR,
            "table": INT,
            "table_name": _nullable("string"),
            "dst": STR,
            "default": BOOL,
            "gateway": _nullable("string"),
            "ifindex": _nullable("integer"),
            "interface": _nullable("string"),
            "protocol": INT,
            "protocol_name": _nullable("string"),
            "scope": STR,
            "type": STR,
            "metric": INT,
            "prefsrc": _nullable("string"),
            "tos": INT,
        }
    )
    rule = _object(
        {
            "family": STR,
            "priority": INT,
            "table": INT,
            "table_name": _nullable("string"),
            "from": _nullable("string"),
            "to": _nullable("string"),
            "iif": _nullable("string"),
            "oif": _nullable("string"),
            "fwmark": INT,
            "fwmask": INT,
            "protocol": INT,
            "protocol_name": _nullable("string"),
            "action": STR,
            "suppress_prefixlen": _nullable("integer"),
        }
    )
    return {"Route": route, "Rule": rule}


def _status_schemas() -> dict[str, Schema]:
    counts = _object({name: INT for name in COUNTS})
    status = _object(
        {
            "version": STR,
            "started": {"type": "string", "format": "date-time"},
            "uptime_seconds": NUM,
            "backend": STR,
            "ready": BOOL,
            "sources": {"type": "object", "additionalProperties": BOOL},
            "managers": {"type": "object", "additionalProperties": {"type": "object"}},
            # NetworkManager's VPN connections, by the number of their active connection
            "vpns": {"type": "object", "additionalProperties": {"type": "object"}},
            "gateways": {"type": "object", "additionalProperties": BOOL},  # gateway liveness
            "counts": counts,
            "last_event": {"anyOf": [_ref("Event"), {"type": "null"}]},
            # monitoring.routes: which routes the counts and /api/v1/routes cover
            "routes_followed": _object(
                {
                    "mode": {"type": "string", "enum": ["all", "tables", "none"]},
                    "tables": {"type": "array", "items": INT},
                    "followed": STR,
                }
            ),
        }
    )
    return {"Status": status}


def _daemon_schemas() -> dict[str, Schema]:
    verdict = _object(
        {
            "name": STR,
            "path": STR,
            "runs": BOOL,
            "verdict": {"type": "string", "enum": ["runs", "skipped"]},
            "reason": _nullable("string"),
            "tree": TREE,
        }
    )
    listed = {"type": "string", "enum": [*DIRECTORY["enum"], NM_DISPATCHER_DIRECTORY]}
    found = {"type": "array", "items": _ref("Verdict")}
    entry = _object({"tree": TREE, "directory": listed, "scripts": found})
    scripts = _object(
        {
            "script_dirs": STRINGS,
            "compat_dirs": {"type": "object", "additionalProperties": STRINGS},
            "directories": {"type": "array", "items": entry},
        }
    )
    health = _object(
        {
            "status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]},
            "checks": {"type": "object", "additionalProperties": STR},
            "failing": STRINGS,
            "degraded": STRINGS,
        }
    )
    reload = _object({"reloaded": BOOL, "source": STR, "errors": STRINGS, "warnings": STRINGS})
    return {"Verdict": verdict, "Scripts": scripts, "Health": health, "Reload": reload}


def _schemas() -> dict[str, Schema]:
    return {
        **_event_schemas(),
        **_link_schemas(),
        **_routing_schemas(),
        **_status_schemas(),
        **_daemon_schemas(),
    }


def _envelope(data: Schema, *, success: bool = True) -> Schema:
    return _object(
        {
            "success": {"type": "boolean", "const": success},
            "data": data,
            "error": STR if not success else {"type": "null"},
            "timestamp": {"type": "string", "format": "date-time"},
        },
        extra=False,
    )


def _ok(description: str, data: Schema) -> Schema:
    return {"description": description, "content": {JSON: {"schema": _envelope(data)}}}


def _error(description: str, data: Schema | None = None) -> Schema:
    body = _envelope(data if data is not None else {"type": "null"}, success=False)
    return {"description": description, "content": {JSON: {"schema": body}}}


def _text(description: str, media: str) -> Schema:
    return {"description": description, "content": {media: {"schema": STR}}}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


P_LIMIT = _query(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": 100},
    "how many records: the newest ones, or with since the oldest ones after it",
)
P_SINCE = _query(
    "since", {"type": "integer", "minimum": 0, "maximum": SEQ_MAX}, "only records after this seq"
)
P_INTERFACE = _query("interface", {"type": "string", "minLength": 1}, "interface name")
P_TYPE = _query("type", {"type": "string", "enum": list(EVENT_TYPES)}, "event type")
P_TABLE = _query("table", {"type": "integer", "minimum": 0, "maximum": TABLE_MAX}, "table id")
P_FAMILY = _query("family", {"type": "string", "enum": list(FAMILY_VALUES)}, "address family")
P_LAST_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
    "description": "resume after this event sequence number (sent by EventSource on reconnect)",
}

BAD = _error("a query parameter breaks its rule; the message names it")
FAILED = _error("an unexpected error (logged by the daemon); no traceback is returned")


def _get(summary: str, responses: dict[str, Schema], params: list[Schema] | None = None) -> Schema:
    op: Schema = {"summary": summary, "responses": {**responses, "500": FAILED}}
    if params:
        op["parameters"] = params
        op["responses"]["400"] = BAD
    return {"get": op}


def _list(name: str, item: str) -> Schema:
    return _ok(name, {"type": "array", "items": _ref(item)})


def _daemon_paths() -> dict[str, Schema]:
    return {
        "/": _get("the dashboard", {"200": _text("HTML", "text/html")}),
        "/static/app.js": _get("dashboard script", {"200": _text("JS", "text/javascript")}),
        "/static/plots.js": _get("dashboard plots", {"200": _text("JS", "text/javascript")}),
        "/static/style.css": _get("dashboard styles", {"200": _text("CSS", "text/css")}),
        "/health": _get(
            "liveness and readiness: sources up and the first dump done",
            {"200": _ok("healthy", _ref("Health")), "503": _error("unhealthy", _ref("Health"))},
        ),
        "/metrics": _get(
            "Prometheus text exposition (the daemon's own registry)",
            {"200": _text("metrics", "text/plain"), "404": _error("metrics.enabled is false")},
        ),
        "/api/v1/openapi.json": _get("this document", {"200": {"description": "OpenAPI 3.1"}}),
        "/api/v1/status": _get("daemon status and counts", {"200": _ok("status", _ref("Status"))}),
        "/api/v1/scripts": _get(
            "every script found, per directory, with its verdict",
            {"200": _ok("scripts", _ref("Scripts"))},
        ),
        "/api/v1/reload": {"post": _reload_operation()},
    }


def _network_paths() -> dict[str, Schema]:
    return {
        "/api/v1/interfaces": _get("every interface", {"200": _list("interfaces", "Interface")}),
        "/api/v1/interfaces/{name}": _interface_path(),
        "/api/v1/routes": _get(
            "routes of every table",
            {"200": _list("routes", "Route")},
            [P_TABLE, P_FAMILY, P_INTERFACE],
        ),
        "/api/v1/rules": _get(
            "policy routing rules", {"200": _list("rules", "Rule")}, [P_TABLE, P_FAMILY]
        ),
        "/api/v1/events": _get(
            "recent events from the ring buffer, oldest first",
            {"200": _list("events", "Event")},
            [P_LIMIT, P_SINCE, P_INTERFACE, P_TYPE],
        ),
        "/api/v1/history": _get("the last hour, for plots", {"200": _ok("history", HISTORY)}),
        "/api/v1/events/stream": _get(
            "Server-Sent Events: event and script messages, replay after Last-Event-ID, then live",
            {"200": _text("an endless text/event-stream", "text/event-stream")},
            [P_SINCE, P_INTERFACE, P_TYPE, P_LAST_ID],
        ),
    }


def _interface_path() -> Schema:
    path = _get(
        "one interface by name",
        {"200": _ok("interface", _ref("Interface")), "404": _error("no such interface")},
    )
    path["parameters"] = [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    return path


def _reload_operation() -> Schema:
    return {
        "summary": "re-read the configuration (as SIGHUP)",
        "security": [{}, {"bearer": []}],
        "responses": {
            "200": _ok("reloaded", _ref("Reload")),
            "401": _error("the API token is required and was missing or wrong"),
            "403": _error("changes are disabled: beyond loopback without api.token"),
            "422": _error("the new configuration was rejected; the old one runs", _ref("Reload")),
            "500": FAILED,
        },
    }


def build() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "netevd",
            "version": __version__,
            "description": "Network event daemon API. Every JSON answer is the envelope "
            '{"success", "data", "error", "timestamp"}.',
        },
        "paths": {**_daemon_paths(), **_network_paths()},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
