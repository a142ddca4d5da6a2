"""The kernel source: rtnetlink links, addresses, routes and rules.

Subscribe, then dump, then stream: the sockets join the multicast groups before the dump, so a
change made during the dump is queued, not lost. On an overrun (ENOBUFS) the kernel has dropped
messages; the sockets are replaced, everything is dumped again and the engine reconciles. Any
other socket failure does the same after a backoff. The source never returns on its own.

Links have a socket of their own. A storm of a million routes fills the other socket's buffer
faster than any reader empties it; a carrier change queued behind it would wait for all of it.
Each round reads the routes' socket first and the links' socket second, and hands on the link
changes first: a link change made before a message just read is then always read with it, so a
new link is known before its addresses and routes. A link change may so overtake route and
address messages of its link that were made before it; the late messages of a link that is
gone by then are dropped here (``_gone``), so no removed link comes back.

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
    NETLINK,
    AddressRemoved,
    Event,
    LinkChanged,
    LinkRemoved,
    NeighbourChanged,
    NeighbourRemoved,
    RouteAdded,
    RouteRemoved,
    RoutesSnapshot,
    SourceStatus,
)
from netevd.core.follow import RouteFollow
from netevd.core.model import RTPROT_NETEVD, Route
from netevd.core.react.neighbours import listed
from netevd.core.state import event_scope
from netevd.kernel import rtnl
from netevd.kernel.bpf import route_filter
from netevd.kernel.rtnl import GROUPS, LINK_GROUPS
from netevd.kernel.snapshot import dump, dump_routes
from netevd.kernel.wire import Rejected, decode_all, type_name
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.netlink")

HEALTHY_AFTER = 10.0  # seconds of streaming after which a failure counts as the first again
QUIET = 0.1  # seconds without messages before routes are re-read after a flush
BACKOFF_MAX = 30.0
ROUND = 64  # datagrams read and decoded between two looks at the clock
SLICE = 0.003  # seconds of reading before the loop gets a turn (the engine, the API, scripts)
NAME = NETLINK
GONE_REMEMBERED = 4096  # removed links whose late messages are dropped

Room = Callable[[bool], Awaitable[None]]  # (whether the kernel has more queued) -> a turn
Streams = tuple[socket.socket, socket.socket]  # (addresses, routes and rules; links)


async def _yield(behind: bool = False) -> None:
    await asyncio.sleep(0)


class NetlinkSource:
    def __init__(
        self,
        emit: Callable[[Event], None],
        metrics: Metrics,
        rcvbuf: int,
        follow: RouteFollow | None = None,
        room: Room = _yield,
        neighbours: bool = False,
        listed: tuple[str, ...] = (),
    ) -> None:
        self._emit = emit
        self._metrics = metrics
        self._rcvbuf = rcvbuf
        self._follow = follow or RouteFollow()
        self._room = room
        # monitoring.gateway_liveness and .neighbors: neighbour messages too, of which only
        # netevd's own entries (protocol 78) and the listed neighbours are kept
        self._groups = GROUPS | (rtnl.RTMGRP_NEIGH if neighbours or listed else 0)
        self._listed = listed
        self._overruns = 0
        self._rejects = 0
        self._streaming_since: float | None = None
        self._flushed = False
        self._behind = False  # the last slice ended with more queued in the kernel
        self._gone: set[int] = set()  # links removed (RTM_DELLINK) and not back since

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
            contextlib.closing(rtnl.open_socket(LINK_GROUPS, self._rcvbuf)) as links,
            contextlib.closing(rtnl.open_socket(self._groups, self._rcvbuf)) as stream,
            contextlib.closing(rtnl.open_socket()) as requests,
        ):
            self._attach_filter(stream)
            self._gone.clear()
            self._emit(await dump(requests, self._follow, reason))
            self._emit(SourceStatus(NAME, True, reason))
            self._streaming_since = time.monotonic()
            await self._stream((stream, links), requests)

    def _attach_filter(self, stream: socket.socket) -> None:
        try:
            program = route_filter(self._follow)
            if program is not None:
                rtnl.attach_filter(stream, program)
        except (OSError, ValueError) as exc:
            # The rule is applied here as well; the kernel filter only saves the work.
            log.warning("netlink.filter not attached (%s); routes are filtered by netevd", exc)

    async def _stream(self, streams: Streams, requests: socket.socket) -> None:
        """Messages as they come; after a change the kernel follows with unannounced route
        flushes (IPv4 address removal, link down), the routes are re-read once things are
        quiet. A change made during the re-read waits in the socket and comes after it."""
        loop = asyncio.get_running_loop()
        dirty_since: float | None = None  # a flush may have happened; the last message's time
        while True:
            if self._read_slice(*streams):
                if self._flushed or dirty_since is not None:
                    dirty_since = loop.time()
                await self._room(self._behind)  # the loop's turn (see Intake.room)
                continue
            if dirty_since is None:
                await rtnl.wait_readable(*streams)
                continue
            remaining = dirty_since + QUIET - loop.time()
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(rtnl.wait_readable(*streams), remaining)
                continue
            dirty_since = None
            self._emit(RoutesSnapshot(await dump_routes(requests, self._follow)))

    def _read_slice(self, stream: socket.socket, links: socket.socket) -> bool:
        """Read and deliver for up to SLICE seconds; whether anything was read. Sets
        ``_flushed`` when something read may have flushed routes silently."""
        self._flushed = False
        self._behind = False
        deadline = time.perf_counter() + SLICE
        read = False
        while True:
            datagrams = rtnl.read_ready(stream, ROUND)
            changes = rtnl.read_ready(links, ROUND)  # after: see the module's docstring
            if not datagrams and not changes:
                return read
            read = True
            self._flushed = self._deliver(changes) or self._flushed
            self._flushed = self._deliver(datagrams) or self._flushed
            full = len(datagrams) == ROUND or len(changes) == ROUND
            if not full:
                return read
            if time.perf_counter() >= deadline:
                self._behind = True  # the slice ended with more in the kernel
                return read

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
                if _unfollowed(event, keeps) or self._foreign(event) or self._late(event):
                    continue
                self._emit(event)
                flush = flush or flushes_routes(event)
        for kind, count in counts.items():
            self._metrics.netlink_messages.labels(type_name(kind)).inc(count)
        return flush

    def _late(self, event: Event) -> bool:
        """Whether *event* is a late message of a removed link (to be dropped); keeps _gone."""
        if isinstance(event, LinkRemoved):
            if len(self._gone) >= GONE_REMEMBERED:
                self._gone.clear()
            self._gone.add(event.index)
            return False
        if isinstance(event, LinkChanged):
            self._gone.discard(event.link.index)
            return False
        gone = self._gone
        return bool(gone) and not gone.isdisjoint(event_scope(event) or ())

    def _foreign(self, event: object) -> bool:
        """A neighbour neither netevd's own nor listed: ARP and NDP churn nobody asked for."""
        if not isinstance(event, NeighbourChanged | NeighbourRemoved):
            return False
        neigh = event.neigh
        return neigh.protocol != RTPROT_NETEVD and not listed(neigh.address, self._listed)

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
