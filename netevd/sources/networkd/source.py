"""The systemd-networkd source: org.freedesktop.network1 on the system bus (dbus-fast).

Subscribe, then snapshot, then stream. The match rules go in first; then the current owner of
``org.freedesktop.network1`` is asked for its links (ListLinks), each link's properties (and its
own Describe() JSON when ``emit_json`` is on) and the Manager's properties. That ManagerSnapshot
is the startup replay, or after a reconnect the resync the engine reconciles. Then every
PropertiesChanged is decoded from its own body (never by re-reading a state file: networkd may
signal before it writes the file) and emitted in arrival order, per link.

Only the name's current owner is believed. Its unique name is tracked through GetNameOwner and
NameOwnerChanged; a signal from anyone else (a unicast signal reaches us whatever the match
rules say) is dropped and counted, as is anything that fails the decoder's checks. When networkd
leaves the bus the source reports itself down and waits for NameOwnerChanged (no polling); when
the bus connection is lost it reconnects with exponential backoff. It never returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from dbus_fast import Message
from dbus_fast.aio import MessageBus

from netevd.bus.connection import DBUS_NAME, DBUS_PATH, connect
from netevd.bus.follow import (
    BusCounters,
    CallFailed,
    OrderedChains,
    call,
    follow_name,
    handled_as_bus_message,
    keep_connected,
    session_end,
)
from netevd.bus.follow import text as error_text
from netevd.bus.values import Ignored, Malformed
from netevd.core.events import (
    BUS_NAMES,
    NETWORKD,
    Event,
    ManagerChanged,
    ManagerLinkChanged,
    ManagerSnapshot,
    Properties,
    SourceStatus,
)
from netevd.core.networkd_states import LINK_PROPERTIES, NETWORKD_MANAGER_PROPERTIES
from netevd.sources.networkd.decode import (
    LINK_INTERFACE,
    MANAGER_INTERFACE,
    PROPERTIES_INTERFACE,
    DecodedUpdate,
    LinkUpdate,
    ListedLink,
    ManagerUpdate,
    decode_describe,
    decode_link_list,
    decode_properties,
    decode_properties_changed,
)
from netevd.sources.networkd.paths import NETWORK1_PATH, link_path
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.networkd")

NAME = NETWORKD
BUS_NAME = BUS_NAMES[NETWORKD]
MATCH_RULES = (
    f"type='signal',sender='{DBUS_NAME}',path='{DBUS_PATH}',interface='{DBUS_NAME}',"
    f"member='NameOwnerChanged',arg0='{BUS_NAME}'",
    f"type='signal',sender='{BUS_NAME}',interface='{PROPERTIES_INTERFACE}',"
    f"member='PropertiesChanged',path_namespace='{NETWORK1_PATH}'",
)
CALL_TIMEOUT = 10.0
SNAPSHOT_CONCURRENCY = 32  # well below dbus-daemon's limit of pending replies per connection
BACKOFF_MAX = 30.0


@dataclass(eq=False)
class _Session:
    """One bus connection: the owner being followed and what is in flight for it."""

    bus: MessageBus
    inbox: asyncio.Queue[Message | None] = field(default_factory=asyncio.Queue)
    owner: str = ""
    covered: dict[str, int] = field(default_factory=dict)  # path -> serial of its snapshot reply
    chains: OrderedChains[int] = field(default_factory=OrderedChains)  # Describe, per link
    snapshots: int = 0

    def drop_chains(self) -> None:
        self.chains.cancel_all()


class NetworkdSource:
    def __init__(
        self,
        emit: Callable[[Event], None],
        *,
        env: Mapping[str, str],
        emit_json: bool = True,
        call_timeout: float = CALL_TIMEOUT,
        backoff_max: float = BACKOFF_MAX,
        metrics: Metrics | None = None,
    ) -> None:
        self._emit = emit
        self._metrics = metrics
        self._env = env
        self._emit_json = emit_json
        self._timeout = call_timeout
        self._backoff_max = backoff_max
        self._up: bool | None = None
        # rejected.<reason> (Malformation values and "sender"), call.<member>.<ok|error|
        # timeout>, describe_failed, reconnects; mirrored into the Prometheus metrics.
        self._counters = BusCounters(NAME, log, metrics)

    async def run(self) -> None:
        await keep_connected(
            self._env, self._timeout, self._backoff_max, self._counters, self._session,
            self._down, log,
        )  # fmt: skip

    @property
    def counts(self) -> Counter[str]:
        return self._counters.counts

    async def _connect(self) -> MessageBus:
        return await connect(self._env, self._timeout)

    async def _session(self, bus: MessageBus) -> tuple[str, bool]:
        """Follow networkd over *bus* until the connection ends: (why it ended, was it useful)."""
        session = _Session(bus)
        reason = await session_end(bus, self._follow(session), session.drop_chains, log)
        return reason, session.snapshots > 0

    async def _follow(self, session: _Session) -> None:
        await follow_name(
            session.bus, session.inbox, self._counters, self._timeout, MATCH_RULES, BUS_NAME,
            partial(self._set_owner, session), partial(self._on_signal, session),
        )  # fmt: skip

    async def _set_owner(self, session: _Session, owner: str) -> None:
        """Follow *owner* ("" = nobody): forget the old one's state, snapshot the new one."""
        session.drop_chains()
        session.covered.clear()
        session.owner = owner
        if not owner:
            self._down("systemd-networkd is not on the bus (waiting for it to return)")
            return
        log.info("networkd.owner unique_name=%s", owner)
        await self._snapshot(session)

    # -- snapshot -----------------------------------------------------------------------------

    async def _snapshot(self, session: _Session) -> None:
        reply = await self._call(
            session, session.owner, NETWORK1_PATH, MANAGER_INTERFACE, "ListLinks"
        )
        links = decode_link_list(reply.signature, reply.body)
        if isinstance(links, Malformed):
            self._reject(links.reason, links.detail)
            raise CallFailed(f"ListLinks answer not believed: {links.detail}")
        manager = await self._get_all(
            session, NETWORK1_PATH, MANAGER_INTERFACE, NETWORKD_MANAGER_PROPERTIES
        )
        limit = asyncio.Semaphore(SNAPSHOT_CONCURRENCY)
        entries = await asyncio.gather(*(self._snapshot_link(session, x, limit) for x in links))
        found = tuple(entry for entry in entries if entry is not None)
        self._emit(ManagerSnapshot(NAME, found, manager or ()))
        session.snapshots += 1
        self._up = True
        self._emit(SourceStatus(NAME, True, f"owner {session.owner}, {len(found)} links"))

    async def _snapshot_link(
        self, session: _Session, link: ListedLink, limit: asyncio.Semaphore
    ) -> tuple[int, Properties, str] | None:
        async with limit:
            try:
                props = await self._get_all(session, link.path, LINK_INTERFACE, LINK_PROPERTIES)
            except CallFailed as exc:  # the link went away between ListLinks and GetAll
                log.debug("networkd.snapshot.skip index=%d error=%r", link.index, str(exc))
                return None
            if props is None:
                return None
            describe = await self._describe(session, link.index) if self._emit_json else ""
        return (link.index, (*props, ("Name", link.name)), describe)

    async def _get_all(
        self, session: _Session, path: str, interface: str, wanted: Sequence[str]
    ) -> Properties | None:
        reply = await self._call(
            session, session.owner, path, PROPERTIES_INTERFACE, "GetAll", "s", [interface]
        )
        # Signals for *path* sent before this reply are already in it (one sender's messages
        # arrive in order, numbered by its serials): the stream skips them.
        session.covered[path] = reply.serial
        values = reply.body[0] if reply.signature == "a{sv}" else None
        props = decode_properties(values, wanted)
        if isinstance(props, Malformed):
            self._reject(props.reason, f"{path}: {props.detail}")
            return None
        return props

    async def _describe(self, session: _Session, index: int) -> str:
        """The link's Describe() JSON verbatim, or "" when it cannot be had (logged, counted)."""
        try:
            reply = await self._call(
                session, session.owner, link_path(index), LINK_INTERFACE, "Describe"
            )
        except (CallFailed, TimeoutError) as exc:
            self._count("describe_failed")
            log.info("networkd.describe.failed index=%d error=%r", index, error_text(exc))
            return ""
        text = decode_describe(reply.signature, reply.body, index)
        if isinstance(text, Malformed):
            self._reject(text.reason, text.detail)
            return ""
        return text

    # -- stream -------------------------------------------------------------------------------

    async def _on_signal(self, session: _Session, message: Message) -> None:
        if await handled_as_bus_message(
            message, BUS_NAME, session.owner, partial(self._set_owner, session)
        ):
            return
        path = message.path or ""
        if message.member != "PropertiesChanged" or not path.startswith(NETWORK1_PATH):
            return
        if not session.owner or message.sender != session.owner:
            self._reject("sender", f"{message.sender} is not {BUS_NAME}'s owner")
            return
        if message.serial <= session.covered.get(path, 0):
            return  # sent before the snapshot's reply for this object, so already in it
        self._on_decoded(session, decode_properties_changed(path, message.signature, message.body))

    def _on_decoded(self, session: _Session, decoded: DecodedUpdate) -> None:
        match decoded:
            case LinkUpdate(index, props):
                self._link_changed(session, index, props)
            case ManagerUpdate(props):
                self._emit(ManagerChanged(NAME, props))
            case Malformed(reason, detail):
                self._reject(reason, detail)
            case Ignored(why):
                log.debug("networkd.ignored %s", why)

    def _link_changed(self, session: _Session, index: int, props: Properties) -> None:
        if not self._emit_json:
            self._emit(ManagerLinkChanged(NAME, index, props))
            return
        # Describe() is a round trip: it runs beside other signals, chained per link so one
        # link's events still leave in the order networkd sent them.
        session.chains.add(index, partial(self._describe_then_emit, session, index, props))

    async def _describe_then_emit(
        self,
        session: _Session,
        index: int,
        props: Properties,
    ) -> None:
        try:
            describe = await self._describe(session, index)
        except Exception as exc:  # the bus went away mid-call: the change itself still holds
            log.info("networkd.describe.failed index=%d error=%r", index, error_text(exc))
            describe = ""
        self._emit(ManagerLinkChanged(NAME, index, props, describe))

    # -- plumbing -----------------------------------------------------------------------------

    async def _call(
        self,
        session: _Session,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: Sequence[object] = (),
    ) -> Message:
        return await call(
            session.bus, self._counters, self._timeout, destination, path, interface, member,
            signature, body,
        )  # fmt: skip

    def _count(self, key: str) -> None:
        self._counters.count(key)

    def _down(self, reason: str) -> None:
        if self._up is False:
            log.debug("networkd.still_down reason=%r", reason)
            return
        self._up = False
        self._emit(SourceStatus(NAME, False, reason))

    def _reject(self, reason: str, detail: str) -> None:
        self._counters.reject(reason, detail)
