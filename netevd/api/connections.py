"""Bounding what API connections may cost: a cap, a deadline for the first request, and one log
line per burst when descriptors run out.

Every descriptor an idle API connection holds is one a script, a netlink socket or the D-Bus
connection cannot have. So the listeners accept at most ``limit`` connections, and the limit
leaves a reserve of descriptors below the soft NOFILE limit (see :func:`connection_limit`).
A connection that has not sent a request within ``header_timeout`` seconds is closed. When the
limit is reached, the oldest connection with no request in progress is closed to make room for
the new one (so ``/health`` still answers while someone holds hundreds of idle connections);
with none idle, the new connection is closed. Both are logged once per burst, not per attempt.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_request import Request
from aiohttp.web_response import StreamResponse

log = logging.getLogger("netevd.api")

RESERVE = 256  # descriptors kept for scripts (pipes), netlink, D-Bus, files, threads
MIN_LIMIT = 8
BURST_GAP = 10.0  # seconds of quiet that end a burst of refusals or accept errors

Handler = Callable[[Request], Awaitable[StreamResponse]]
ProtocolFactory = Callable[[], asyncio.BaseProtocol]


def connection_limit(configured: int, soft_nofile: int) -> int:
    """At most *configured*, and never so many that fewer than RESERVE descriptors are left."""
    return max(MIN_LIMIT, min(configured, soft_nofile - RESERVE))


class _Burst:
    """Counts occurrences; says to log the first of a burst and how many the last one had."""

    def __init__(self) -> None:
        self.last = -BURST_GAP
        self.count = 0

    def hit(self) -> tuple[bool, int]:
        """(log this one?, occurrences of the previous burst not logged)."""
        now = time.monotonic()
        new_burst = now - self.last > BURST_GAP
        self.last = now
        previous = self.count if new_burst else 0
        self.count = 1 if new_burst else self.count + 1
        return new_burst, max(previous - 1, 0)


class Guarded(asyncio.Protocol):
    """One connection: aiohttp's own protocol inside, with a deadline and a place in the cap."""

    def __init__(self, limiter: ConnectionLimiter, inner: asyncio.Protocol) -> None:
        self.limiter = limiter
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.busy = 0  # requests in progress (set by the middleware)
        self.requested = False
        self.opened = time.monotonic()
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.inner.connection_made(transport)
        if not self.limiter.admit(self):
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.limiter.header_timeout, self._expired)

    def _expired(self) -> None:
        if not self.requested and self.transport is not None:
            self.limiter.expired += 1
            self.transport.abort()

    def request_started(self) -> None:
        self.requested = True
        self.busy += 1
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self.limiter.release(self)
        self.inner.connection_lost(exc)


class ConnectionLimiter:
    def __init__(self, limit: int, header_timeout: float) -> None:
        self.limit = limit
        self.header_timeout = header_timeout
        self.live: dict[asyncio.BaseTransport, Guarded] = {}
        self.refused = 0
        self.evicted = 0
        self.expired = 0
        self._burst = _Burst()

    def factory(self, inner: ProtocolFactory) -> ProtocolFactory:
        def make() -> asyncio.BaseProtocol:
            made = inner()
            assert isinstance(made, asyncio.Protocol)
            return Guarded(self, made)

        return make

    def admit(self, conn: Guarded) -> bool:
        """Make room for *conn* (closing the oldest idle one); False when there is none."""
        if len(self.live) >= self.limit:
            idle = [c for c in self.live.values() if not c.busy]
            self._full()
            if not idle:
                self.refused += 1
                return False
            oldest = min(idle, key=lambda c: (c.requested, c.opened))
            self.evicted += 1
            self.release(oldest)
            if oldest.transport is not None:
                oldest.transport.abort()
        assert conn.transport is not None
        self.live[conn.transport] = conn
        return True

    def release(self, conn: Guarded) -> None:
        if conn.transport is not None and self.live.get(conn.transport) is conn:
            del self.live[conn.transport]

    def _full(self) -> None:
        first, _ = self._burst.hit()
        if first:
            log.warning(
                "api.connections.full limit=%d closed_oldest_idle=%d refused=%d "
                "(api.max_connections; logged once per burst)",
                self.limit,
                self.evicted,
                self.refused,
            )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> StreamResponse:
        """Marks the connection busy while a request is handled (so it is never evicted)."""
        conn = self.live.get(request.transport) if request.transport else None
        if conn is None:
            return await handler(request)
        conn.request_started()
        try:
            return await handler(request)
        finally:
            conn.busy -= 1


class AcceptErrors:
    """The loop's exception handler: accept() failing with EMFILE/ENFILE is logged once per
    burst, in one line, instead of a traceback per attempt; everything else as asyncio does."""

    def __init__(self) -> None:
        self._burst = _Burst()

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            first, before = self._burst.hit()
            if first:
                log.error(
                    "api.accept.failed error=%r (out of file descriptors; the API retries, "
                    "logged once per burst; previous burst: %d more)",
                    exc.strerror,
                    before,
                )
            return
        loop.default_exception_handler(context)


class GuardedTCPSite(web.TCPSite):
    """aiohttp's TCPSite with every connection passed through *limiter*."""

    __slots__ = ("_limiter",)

    def __init__(self, runner: web.BaseRunner, limiter: ConnectionLimiter, **kw: Any) -> None:
        super().__init__(runner, **kw)
        self._limiter = limiter

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._limiter.factory(server),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
        )


class GuardedUnixSite(web.UnixSite):
    """aiohttp's UnixSite with every connection passed through *limiter*."""

    __slots__ = ("_limiter",)

    def __init__(self, runner: web.BaseRunner, path: str, limiter: ConnectionLimiter) -> None:
        super().__init__(runner, path)
        self._limiter = limiter

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_unix_server(
            self._limiter.factory(server), self._path, backlog=self._backlog
        )
