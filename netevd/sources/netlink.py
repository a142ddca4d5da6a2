"""The kernel source: rtnetlink links, addresses, routes and rules.

Subscribe, then dump, then stream: the socket joins the multicast groups before the dump, so a
change made during the dump is queued, not lost. On an overrun (ENOBUFS) the kernel has dropped
messages; the sockets are replaced, everything is dumped again and the engine reconciles. Any
other socket failure does the same after a backoff. The source never returns on its own.

Datagrams are read raw, in rounds of at most ROUND, and decoded by netevd.kernel.wire, which
reads only what netevd keeps. Routes netevd does not follow (``monitoring.routes``) are
dropped by a socket filter in the kernel and, whatever gets through, here. Between rounds the
source gives the loop back; when the engine is far behind it waits for room (``room``), so its
backlog stays bounded and the kernel's buffer takes the rest (an overrun re-dumps).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from netevd.core.events import (
    AddressRemoved,
    Event,
    LinkChanged,
    RouteAdded,
    RouteRemoved,
    RoutesSnapshot,
    SourceStatus,
)
from netevd.core.follow import RouteFollow
from netevd.core.model import Route
from netevd.kernel import rtnl
from netevd.kernel.bpf import route_filter
from netevd.kernel.snapshot import dump, dump_routes
from netevd.kernel.wire import Rejected, decode_all, type_name
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.netlink")

RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV4_RULE = 0x80
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
RTMGRP_IPV6_RULE = 0x1000000  # 1 << (RTNLGRP_IPV6_RULE - 1)
GROUPS = (
    RTMGRP_LINK
    | RTMGRP_IPV4_IFADDR
    | RTMGRP_IPV6_IFADDR
    | RTMGRP_IPV4_ROUTE
    | RTMGRP_IPV6_ROUTE
    | RTMGRP_IPV4_RULE
    | RTMGRP_IPV6_RULE
)
HEALTHY_AFTER = 10.0  # seconds of streaming after which a failure counts as the first again
QUIET = 0.1  # seconds without messages before routes are re-read after a flush
BACKOFF_MAX = 30.0
ROUND = 512  # datagrams read (and decoded) before the loop gets a turn
NAME = "netlink"

Room = Callable[[], Awaitable[None]]


async def _yield() -> None:
    await asyncio.sleep(0)


class NetlinkSource:
    def __init__(
        self,
        emit: Callable[[Event], None],
        metrics: Metrics,
        rcvbuf: int,
        follow: RouteFollow | None = None,
        room: Room = _yield,
    ) -> None:
        self._emit = emit
        self._metrics = metrics
        self._rcvbuf = rcvbuf
        self._follow = follow or RouteFollow()
        self._room = room
        self._overruns = 0
        self._rejects = 0
        self._streaming_since: float | None = None

    async def run(self) -> None:
        reason = "startup"
        failures = 0  # consecutive sessions that ended in an error
        if not self._follow.everything:
            log.info("netlink.routes %s", self._follow.describe()["followed"])
        while True:
            self._streaming_since = None
            try:
                await self._session(reason)
            except (OSError, rtnl.DumpInterrupted) as exc:
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

    def _failed(self, exc: Exception, failures: int) -> float:
        if getattr(exc, "errno", None) == errno.ENOBUFS:
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
        with (
            contextlib.closing(rtnl.open_socket(GROUPS, self._rcvbuf)) as stream,
            contextlib.closing(rtnl.open_socket()) as requests,
        ):
            self._attach_filter(stream)
            self._emit(await dump(requests, self._follow, reason))
            self._emit(SourceStatus(NAME, True, reason))
            self._streaming_since = time.monotonic()
            await self._stream(stream, requests)

    def _attach_filter(self, stream: socket.socket) -> None:
        try:
            program = route_filter(self._follow)
            if program is not None:
                rtnl.attach_filter(stream, program)
        except (OSError, ValueError) as exc:
            # The rule is applied here as well; the kernel filter only saves the work.
            log.warning("netlink.filter not attached (%s); routes are filtered by netevd", exc)

    async def _stream(self, stream: socket.socket, requests: socket.socket) -> None:
        """Messages as they come; after a change the kernel follows with unannounced route
        flushes (IPv4 address removal, link down), the routes are re-read once things are
        quiet. A change made during the re-read waits in the socket and comes after it."""
        loop = asyncio.get_running_loop()
        dirty_since: float | None = None  # a flush may have happened; the last message's time
        while True:
            datagrams = rtnl.read_ready(stream, ROUND)
            if datagrams:
                if self._deliver(datagrams) or dirty_since is not None:
                    dirty_since = loop.time()
                await self._room()  # the loop's turn; a wait while the engine is far behind
                continue
            if dirty_since is None:
                await rtnl.wait_readable(stream)
                continue
            remaining = dirty_since + QUIET - loop.time()
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(rtnl.wait_readable(stream), remaining)
                continue
            dirty_since = None
            self._emit(RoutesSnapshot(await dump_routes(requests, self._follow)))

    def _deliver(self, datagrams: list[bytes]) -> bool:
        """Emit the datagrams' events; True when the kernel may now flush routes silently."""
        counts: Counter[int] = Counter()
        flush = False
        keeps = None if self._follow.everything else self._follow.keeps
        for data in datagrams:
            for kind, event in decode_all(data):
                counts[kind] += 1
                if event is None:
                    continue
                if isinstance(event, Rejected):
                    self._rejected(event)
                    continue
                if _unfollowed(event, keeps):
                    continue
                self._emit(event)
                flush = flush or flushes_routes(event)
        for kind, count in counts.items():
            self._metrics.netlink_messages.labels(type_name(kind)).inc(count)
        return flush

    def _rejected(self, event: Rejected) -> None:
        self._rejects += 1
        self._metrics.netlink_errors.labels("malformed").inc()
        if self._rejects == 1:
            log.warning(
                "netlink.malformed type=%s reason=%r (logged once, counted in "
                'netevd_netlink_errors_total{kind="malformed"})',
                type_name(event.type),
                event.reason,
            )


def _unfollowed(event: object, keeps: Callable[[Route], bool] | None) -> bool:
    return (
        keeps is not None
        and isinstance(event, RouteAdded | RouteRemoved)
        and not keeps(event.route)
    )


def flushes_routes(event: object) -> bool:
    """Changes after which the kernel drops routes without a message for each (IPv4 above
    all): an address removed, a link set down."""
    if isinstance(event, AddressRemoved):
        return True
    return isinstance(event, LinkChanged) and not event.link.admin_up
