"""What a D-Bus source needs of the bus: counted method calls, a signal inbox, following a
name's owner, reconnecting with backoff, and tasks kept in order per key.

Used by the systemd-networkd and NetworkManager sources (and its counters by the name services'
:class:`netevd.bus.caller.BusCaller`). Every call and every rejected message
is counted in :attr:`BusCounters.counts` (``call.<member>.<ok|error|timeout>``,
``rejected.<reason>``, ``reconnects``) and mirrored into the Prometheus metrics when there are
any, labelled with the source's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import partial
from typing import Generic, TypeVar

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from netevd.bus.connection import DBUS_NAME, DBUS_PATH, connect
from netevd.bus.values import decode_name_owner_changed
from netevd.system.logfmt import repeat_level
from netevd.telemetry.metrics import Metrics

Inbox = asyncio.Queue[Message | None]
K = TypeVar("K", bound=Hashable)


class CallFailed(Exception):
    """A method call was answered with a D-Bus error."""


class BusCounters:
    """Counts of one source's calls and rejections, with their log lines and metrics."""

    def __init__(self, name: str, log: logging.Logger, metrics: Metrics | None) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()
        self._log = log
        self._metrics = metrics

    def count(self, key: str) -> None:
        self.counts[key] += 1
        if self._metrics is None:
            return
        kind, _, rest = key.partition(".")
        if kind == "rejected":
            self._metrics.dbus_rejected.labels(self.name, rest).inc()
        elif kind == "reconnects":
            self._metrics.source_reconnects.labels(self.name).inc()
        elif kind == "call":
            member, _, result = rest.rpartition(".")
            self._metrics.dbus_calls.labels(self.name, member).inc()
            if result != "ok":
                self._metrics.dbus_errors.inc()

    def reject(self, reason: str, detail: str) -> None:
        """Count a message not believed; warn for the first ten of a reason, then sparingly."""
        key = f"rejected.{reason}"
        self.count(key)
        count = self.counts[key]
        level = repeat_level(count)
        prefix = self._log.name.rsplit(".", 1)[-1]
        self._log.log(
            level, "%s.rejected reason=%s count=%d detail=%r", prefix, reason, count, detail
        )


async def call(
    bus: MessageBus,
    counters: BusCounters,
    timeout: float,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str = "",
    body: Sequence[object] = (),
) -> Message:
    """A method call's reply; CallFailed for an error reply, TimeoutError after *timeout*."""
    message = Message(
        destination=destination,
        path=path,
        interface=interface,
        member=member,
        signature=signature,
        body=list(body),
    )
    try:
        reply = await asyncio.wait_for(bus.call(message), timeout)
    except TimeoutError:
        counters.count(f"call.{member}.timeout")
        raise
    if reply.message_type is MessageType.ERROR:
        counters.count(f"call.{member}.error")
        raise CallFailed(f"{interface}.{member} on {path}: {reply.error_name}")
    counters.count(f"call.{member}.ok")
    return reply


def watch(bus: MessageBus, inbox: Inbox) -> asyncio.Future[None]:
    """Put every signal *bus* receives into *inbox*, and None once the connection is lost."""
    bus.add_message_handler(lambda message: _enqueue(inbox, message))
    done = asyncio.ensure_future(bus.wait_for_disconnect())  # type: ignore[no-untyped-call]
    done.add_done_callback(lambda future: _on_disconnect(inbox, future))
    return done


def _enqueue(inbox: Inbox, message: Message) -> None:
    if message.message_type is MessageType.SIGNAL:
        inbox.put_nowait(message)


def _on_disconnect(inbox: Inbox, done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()  # retrieved: the reason is logged by whoever ends the session
    inbox.put_nowait(None)


def text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


BACKOFF_MIN = 0.25


async def name_owner(bus: MessageBus, counters: BusCounters, timeout: float, name: str) -> str:
    """The unique name that owns *name* now ("" when nobody does)."""
    try:
        reply = await call(
            bus, counters, timeout, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", "s", [name]
        )
    except CallFailed:  # org.freedesktop.DBus.Error.NameHasNoOwner
        return ""
    owner = reply.body[0] if reply.signature == "s" else ""
    return owner if isinstance(owner, str) else ""


async def handled_as_bus_message(
    message: Message, name: str, owner: str, set_owner: Callable[[str], Awaitable[None]]
) -> bool:
    """Whether *message* is the bus's own, handled here: a NameOwnerChanged that gives
    *name* a new owner (or none) calls *set_owner*; anything else from the bus is ignored."""
    if message.sender != DBUS_NAME:
        return False
    change = decode_name_owner_changed(message.signature, message.body)
    if (
        message.member == "NameOwnerChanged"
        and change is not None
        and change[0] == name
        and change[1] != owner
    ):
        await set_owner(change[1])
    return True


async def follow_name(
    bus: MessageBus,
    inbox: Inbox,
    counters: BusCounters,
    timeout: float,
    rules: Sequence[str],
    name: str,
    set_owner: Callable[[str], Awaitable[None]],
    on_signal: Callable[[Message], Awaitable[None]],
) -> None:
    """Subscribe (the match *rules*), follow *name*'s current owner, then stream every signal
    to *on_signal* until the connection is lost: nothing falls between subscribe and snapshot."""
    watching = watch(bus, inbox)
    try:
        for rule in rules:
            await call(
                bus, counters, timeout, DBUS_NAME, DBUS_PATH, DBUS_NAME, "AddMatch", "s", [rule]
            )
        await set_owner(await name_owner(bus, counters, timeout, name))
        while (message := await inbox.get()) is not None:
            await on_signal(message)
    finally:
        watching.cancel()


async def session_end(
    bus: MessageBus,
    follow: Awaitable[None],
    forget: Callable[[], None],
    log: logging.Logger,
) -> str:
    """Await *follow* (a session on *bus*) until the connection ends, then *forget* what the
    session held and disconnect; why it ended (logged as ``<source>.lost``)."""
    try:
        await follow
        reason = "system bus connection lost"
    except Exception as exc:
        reason = f"system bus session failed: {text(exc)}"
    finally:
        forget()
        with contextlib.suppress(Exception):
            bus.disconnect()
    log.warning("%s.lost reason=%r", log.name.rsplit(".", 1)[-1], reason)
    return reason


async def keep_connected(
    env: Mapping[str, str],
    timeout: float,
    backoff_max: float,
    counters: BusCounters,
    session: Callable[[MessageBus], Awaitable[tuple[str, bool]]],
    down: Callable[[str], None],
    log: logging.Logger,
) -> None:
    """Connect and run *session* on the bus, again and again: a session that was useful (it
    took a snapshot) resets the backoff; failures in a row double it up to *backoff_max*.
    Never returns."""
    prefix = log.name.rsplit(".", 1)[-1]
    backoff = BACKOFF_MIN
    while True:
        healthy = False
        try:
            bus = await connect(env, timeout)
        except Exception as exc:
            down(f"system bus unreachable: {text(exc)}")
        else:
            reason, healthy = await session(bus)
            down(reason)
        if healthy:
            backoff = BACKOFF_MIN
        counters.count("reconnects")
        log.info("%s.reconnect in=%.2fs", prefix, backoff)
        await asyncio.sleep(backoff)  # backoff before reconnecting, not a poll
        backoff = min(backoff * 2, backoff_max)


class OrderedChains(Generic[K]):
    """Tasks chained per key: each starts its work once the key's previous task has ended (its
    order matters, not its outcome), so one object's round trips leave in the order its signals
    came while other objects' run beside them."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[None]] = {}

    def __contains__(self, key: K) -> bool:
        return key in self._tasks

    def add(self, key: K, work: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.create_task(_after(self._tasks.get(key), work))
        self._tasks[key] = task
        task.add_done_callback(partial(self._forget, key))

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def _forget(self, key: K, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]


async def _after(previous: asyncio.Task[None] | None, work: Callable[[], Awaitable[None]]) -> None:
    if previous is not None:
        await asyncio.wait([previous])  # only its order matters here, not its outcome
    await work()
