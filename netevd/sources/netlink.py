"""The kernel source: rtnetlink links, addresses, routes and rules (pyroute2's asyncio API).

Subscribe, then dump, then stream: the socket joins the multicast groups before the dump, so a
change made during the dump is queued, not lost. On an overrun (ENOBUFS) the kernel has dropped
messages; the socket is replaced, everything is dumped again and the engine reconciles. Any other
socket failure does the same after a backoff. The source never returns on its own.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import (
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV4_RULE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_IPV6_RULE,
    RTMGRP_LINK,
)

from netevd.core.events import AddressRemoved, Event, LinkChanged, SourceStatus
from netevd.kernel.decode import decode
from netevd.kernel.dump import dump, dump_routes
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.netlink")

GROUPS = (
    RTMGRP_LINK
    | RTMGRP_IPV4_IFADDR
    | RTMGRP_IPV6_IFADDR
    | RTMGRP_IPV4_ROUTE
    | RTMGRP_IPV6_ROUTE
    | RTMGRP_IPV4_RULE
    | RTMGRP_IPV6_RULE
)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
HEALTHY_AFTER = 10.0  # seconds of streaming after which a failure counts as the first again
QUIET = 0.1  # seconds without messages before routes are re-read after a flush
BACKOFF_MAX = 30.0
NAME = "netlink"


class NetlinkSource:
    def __init__(self, emit: Callable[[Event], None], metrics: Metrics, rcvbuf: int) -> None:
        self._emit = emit
        self._metrics = metrics
        self._rcvbuf = rcvbuf
        self._overruns = 0
        self._streaming_since: float | None = None

    async def run(self) -> None:
        reason = "startup"
        failures = 0  # consecutive sessions that ended in an error
        while True:
            self._streaming_since = None
            try:
                await self._session(reason)
            except (OSError, NetlinkError) as exc:
                # Failures in a row grow the pause; one after a while of healthy streaming
                # starts afresh (a storm that overruns every fresh socket keeps growing it).
                since = self._streaming_since
                healthy = since is not None and time.monotonic() - since > HEALTHY_AFTER
                failures = 1 if healthy else failures + 1
                reason = "resync"
                delay = self._failed(exc, failures)
                # A pause before reopening, growing while the failure repeats (a storm that
                # keeps overrunning, a kernel that refuses the socket); not a poll.
                await asyncio.sleep(delay)

    def _failed(self, exc: OSError | NetlinkError, failures: int) -> float:
        code = getattr(exc, "code", None) or getattr(exc, "errno", None)
        if code == errno.ENOBUFS:
            self._overruns += 1
            self._metrics.netlink_errors.labels("overrun").inc()
            self._metrics.netlink_resyncs.labels("overrun").inc()
            if self._overruns == 1:
                log.warning(
                    "netlink.overrun: the kernel dropped messages; re-dumping "
                    "(logged once, counted in netevd_netlink_resyncs_total)"
                )
            return 0.0 if failures == 1 else min(0.05 * 2.0 ** (failures - 2), 2.0)
        self._metrics.netlink_errors.labels("socket").inc()
        self._metrics.netlink_resyncs.labels("reconnect").inc()
        self._emit(SourceStatus(NAME, False, f"netlink socket failed: {exc}"))
        delay = min(0.5 * 2.0 ** (failures - 1), BACKOFF_MAX)
        log.error("netlink.failed error=%r retry_in=%.1fs", str(exc), delay)
        return delay

    async def _session(self, reason: str) -> None:
        async with AsyncIPRoute(flags=0) as ipr:
            await ipr.bind(groups=GROUPS)
            # SO_RCVBUFFORCE (CAP_NET_ADMIN) passes rmem_max; a larger buffer means fewer
            # overruns, but a re-dump handles them either way.
            ipr.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self._rcvbuf)
            self._emit(await dump(ipr, reason))
            self._emit(SourceStatus(NAME, True, reason))
            self._streaming_since = time.monotonic()
            await self._stream(ipr)

    async def _stream(self, ipr: AsyncIPRoute) -> None:
        """Messages as they come; after a change the kernel follows with unannounced route
        flushes (IPv4 address removal, link down), the routes are re-read once things are
        quiet, on the same socket, so every message after the re-read is applied after it."""
        dirty = False
        pending: asyncio.Future[list[Any]] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(_batch(ipr))
                done, _ = await asyncio.wait({pending}, timeout=QUIET if dirty else None)
                if pending not in done:
                    dirty = False
                    self._emit(await dump_routes(ipr))
                    continue
                messages, pending = pending.result(), None
                for msg in messages:
                    dirty = self._handle(msg) or dirty
        finally:
            if pending is not None:
                pending.cancel()

    def _handle(self, msg: Any) -> bool:
        """Emit the message's event; True when the kernel may now flush routes silently."""
        self._metrics.netlink_messages.labels(str(msg.get("event"))).inc()
        event = decode(msg)
        if event is not None:
            self._emit(event)
        return flushes_routes(event)


async def _batch(ipr: AsyncIPRoute) -> list[Any]:
    return [msg async for msg in ipr.get()]  # get() returns after one datagram batch


def flushes_routes(event: object) -> bool:
    """Changes after which the kernel drops routes without a message for each (IPv4 above
    all): an address removed, a link set down."""
    if isinstance(event, AddressRemoved):
        return True
    return isinstance(event, LinkChanged) and not event.link.admin_up
