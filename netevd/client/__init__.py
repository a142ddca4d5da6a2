"""The command-line client: ``netevd status|list|show|events|reload`` against a running daemon.

Text output is for people (aligned tables, control characters in names made visible); JSON is
for programs (the envelope's ``data``, or with ``events --follow`` one ``{"kind", "data"}``
object per line). The requests themselves are netevd.client.http's; the rendering is
netevd.client.render's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from netevd.client.http import DEFAULT_ENDPOINT, ENDPOINT_ENV, TOKEN_ENV, ApiClient, Endpoint
from netevd.client.render import render, render_event, render_script
from netevd.errors import UsageError

__all__ = ["ApiClient", "Endpoint", "run_client"]

Out = Callable[[str], None]


def read_token(token_file: str | None, env: Mapping[str, str]) -> str:
    if token_file:
        try:
            return Path(token_file).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--token-file {token_file}: cannot be read ({exc})") from None
    return env.get(TOKEN_ENV, "")


def client_for(args: Any, env: Mapping[str, str]) -> ApiClient:
    endpoint = Endpoint.parse(args.endpoint or env.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT)
    return ApiClient(endpoint, read_token(getattr(args, "token_file", None), env))


async def _status(client: ApiClient, args: Any, out: Out) -> int:
    out(render("status", await client.get("/api/v1/status"), args.format))
    return 0


async def _list(client: ApiClient, args: Any, out: Out) -> int:
    data = await client.get(f"/api/v1/{args.what}")
    out(render(args.what, data, args.format))
    return 0


async def _show(client: ApiClient, args: Any, out: Out) -> int:
    data = await client.get(f"/api/v1/interfaces/{quote(args.name, safe='')}")
    out(render("interface", data, args.format))
    return 0


async def _reload(client: ApiClient, args: Any, out: Out) -> int:
    out(render("reload", await client.post("/api/v1/reload"), args.format))
    return 0


async def _events(client: ApiClient, args: Any, out: Out) -> int:
    filters = {k: v for k, v in (("interface", args.interface), ("type", args.type)) if v}
    events = await client.get("/api/v1/events", {**filters, "limit": str(args.n)})
    if not args.follow:
        out(render("events", events, args.format))
        return 0
    last = events[-1]["seq"] if events else None
    for event in events:
        out(_follow_line("event", event, args.format))
    async for kind, document in client.stream(filters, last):
        out(_follow_line(kind, document, args.format))
    return 0


def _follow_line(kind: str, document: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"kind": kind, "data": document})
    return render_event(document) if kind == "event" else render_script(document)


COMMANDS = {
    "status": _status,
    "list": _list,
    "show": _show,
    "events": _events,
    "reload": _reload,
}


def _print(text: str) -> None:
    print(text, flush=True)


def run_client(args: Any, env: Mapping[str, str], out: Out = _print) -> int:
    """Run one client command; RuntimeFailure/UsageError carry the message and exit code."""
    command = COMMANDS[args.command]
    client = client_for(args, env)

    async def main() -> int:
        async with client:
            return await command(client, args, out)

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 0 if getattr(args, "follow", False) else 1
    except BrokenPipeError:
        # `netevd events -f | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
