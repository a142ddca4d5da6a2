"""The OpenAPI schema of ``GET /api/v1/history`` (netevd.telemetry.history's document), beside
netevd.api.openapi, which serves it."""

from __future__ import annotations

from typing import Any

from netevd.core.directories import Directory
from netevd.core.kinds import KINDS
from netevd.telemetry.history import GONE

Schema = dict[str, Any]
STATES = ["off", "no-carrier", "carrier", "degraded", "routable", GONE]


def _object(**properties: Schema) -> Schema:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer", "minimum": 0}

MINUTE = _object(
    start=INT,
    counts={
        "type": "object",
        "propertyNames": {"enum": list(KINDS)},
        "additionalProperties": {"type": "integer", "minimum": 1},
    },
)
LINK = _object(
    ifindex=INT,
    name={"type": "string"},
    changes=_array(_object(ts=NUM, state={"type": "string", "enum": STATES})),
)
RUN = _object(
    seq=INT,
    ts=NUM,
    directory={"type": "string", "enum": [d.value for d in Directory]},
    script={"type": "string"},
    duration=NUM,
    exit_code={"type": ["integer", "null"]},
    timed_out={"type": "boolean"},
)
HISTORY = _object(
    window_seconds=NUM,
    now=NUM,
    minutes=_array(MINUTE),
    links=_array(LINK),
    unfollowed_links=INT,
    scripts=_array(RUN),
)
