"""``GET /api/v1/events/stream``: the event log as Server-Sent Events, replay first, then live.

Each message is ``id: <seq>``, ``event: event|script`` and one ``data:`` line of JSON (the same
documents as ``/api/v1/events``; a script message carries the seq of the event that ran it).
A client resuming with ``Last-Event-ID`` (or ``?since=``) first gets the ring buffer's records
after that sequence. The subscription is taken and the backlog read in the same step (no await
between them), so nothing falls between replay and live. A quiet stream gets a comment line
every heartbeat, from a timer on the subscriber queue, so proxies and clients see it alive.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from netevd.api import documents as docs
from netevd.api.handlers import SETTINGS, VIEW, failure
from netevd.api.params import EventQuery, last_event_id
from netevd.telemetry.eventlog import EventLog, EventRecord

log = logging.getLogger("netevd.api")

STREAMS = web.AppKey("streams", set[asyncio.Task[Any]])
RETRY_MS = 2000  # how long an EventSource waits before it reconnects

HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx and friends: do not hold the stream back
}


def message(seq: int, kind: str, document: Mapping[str, Any]) -> bytes:
    data = json.dumps(document, separators=(",", ":"))  # one line: JSON escapes newlines
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".encode()


def backlog(events: EventLog, since: int | None, query: EventQuery) -> list[EventRecord]:
    """The records a resuming client missed (matching its filters)."""
    if since is None:
        return []
    newest = events.last()
    if newest is not None and since > newest.seq:
        since = 0  # an id from before a daemon restart: sequence numbers began again
    return [
        r
        for r in events.query(limit=events.capacity, since=since)
        if query.matches(r.link_name, r.type)
    ]


def _wanted(events: EventLog, query: EventQuery, kind: str, document: Mapping[str, Any]) -> bool:
    if query.interface is None and query.type is None:
        return True
    if kind == "event":
        return query.matches(document.get("link_name"), str(document.get("type")))
    record = events.get(int(document.get("seq", 0)))  # a script: judged by its event
    return record is not None and query.matches(record.link_name, record.type)


async def stream(request: web.Request) -> web.StreamResponse:
    streams = request.app[STREAMS]
    limit = request.app[SETTINGS].max_streams
    if len(streams) >= limit:
        # Each stream holds a connection and a queue for as long as the client likes.
        return failure(
            503, f"too many event streams open ({limit}, api.max_streams); try again later"
        )
    query = EventQuery.parse(request.query)
    since = last_event_id(request.headers.get("Last-Event-ID"), query.since)
    view = request.app[VIEW]
    events = view.events
    queue = events.subscribe(lambda kind, document: _wanted(events, query, kind, document))
    missed = backlog(events, since, query)
    task = asyncio.current_task()
    if task is not None:
        streams.add(task)
    response = web.StreamResponse(headers=HEADERS)
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        for record in missed:
            await response.write(
                message(record.seq, "event", docs.event_document(record.to_dict()))
            )
        await _live(response, queue, request.app[SETTINGS].heartbeat)
    except ConnectionResetError:
        pass  # the client went away (a cancellation, at shutdown, propagates as it should)
    finally:
        events.unsubscribe(queue)
        if task is not None:
            streams.discard(task)
    return response


async def _live(
    response: web.StreamResponse,
    queue: asyncio.Queue[tuple[str, dict[str, Any]]],
    heartbeat: float,
) -> None:
    """Write what the queue brings (the event log filtered it by the stream's query)."""
    while True:
        try:
            kind, document = await asyncio.wait_for(queue.get(), heartbeat)
        except TimeoutError:
            await response.write(b": keepalive\n\n")
            continue
        if kind == "overflow":
            log.warning("api.stream.overflow: a client fell behind; it can resume from its id")
            note = {"error": "this client fell behind and was cut off; reconnect to resume"}
            await response.write(f"event: overflow\ndata: {json.dumps(note)}\n\n".encode())
            return
        if kind == "event":
            await response.write(message(document["seq"], kind, docs.event_document(document)))
        else:
            await response.write(message(document["seq"], kind, docs.script_message(document)))


async def stop_streams(app: web.Application) -> None:
    """on_shutdown: end every open stream now rather than after the shutdown timeout."""
    streams: set[asyncio.Task[Any]] = app[STREAMS]
    for task in list(streams):
        task.cancel()
