"""The NetworkManager source: org.freedesktop.NetworkManager on the system bus (dbus-fast).

Subscribe, then snapshot, then stream. The match rules go in first; then the current owner of
``org.freedesktop.NetworkManager`` is asked for its devices (GetDevices), each device's
properties with those of its active connection and IP configurations, and the Manager's State
and Connectivity. That ManagerSnapshot is the startup replay, or after a reconnect the resync
the engine reconciles. Then the signals are followed in arrival order:

- ``Device.StateChanged(new, old, reason)`` is taken from the signal itself, never re-read
  (a re-read races with the next transition: upstream netevd's bug);
- ``PropertiesChanged`` of devices, active connections and IP4Config/IP6Config objects, and
  ``ObjectManager.InterfacesAdded`` (NetworkManager announces every new object with all its
  properties, before any device refers to it) keep :class:`Tracker` current without round trips;
- ``DeviceAdded``/``DeviceRemoved`` and the Manager's ``StateChanged``.

When a device refers to an object nobody has described (a peer that skips InterfacesAdded), it
is fetched with GetAll, and that device's later events wait for it: each device's events leave
in signal order, other devices' are not held up.

Only the name's current owner is believed (GetNameOwner, NameOwnerChanged); a signal from anyone
else is dropped and counted, as is anything the decoder rejects. When NetworkManager leaves the
bus the source reports itself down and waits for NameOwnerChanged (no polling); when the bus
connection is lost it reconnects with exponential backoff. It never returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from netevd.api.metrics import Metrics
from netevd.core.events import Event, ManagerSnapshot, SourceStatus
from netevd.sources.networkd_decode import decode_name_owner_changed
from netevd.sources.networkmanager_decode import (
    ACTIVE_INTERFACE,
    DEVICE_INTERFACE,
    IP4_INTERFACE,
    IP6_INTERFACE,
    NM_INTERFACE,
    OBJECT_MANAGER_INTERFACE,
    PROPERTIES_INTERFACE,
    ConnectionChanged,
    Decoded,
    DeviceAdded,
    DeviceChanged,
    DeviceProps,
    DeviceRemoved,
    DeviceStateChanged,
    Ignored,
    IpConfigChanged,
    Malformed,
    ManagerAdded,
    ManagerChanged,
    ManagerProps,
    ObjectAdded,
    ObjectRemoved,
    decode_device_list,
    decode_get_all,
    decode_signal,
    interface_name_problem,
)
from netevd.sources.networkmanager_devices import NAME, IfindexLookup, Tracker
from netevd.sources.networkmanager_paths import (
    ACTIVE_PREFIX,
    DEVICE_PREFIX,
    IP4_PREFIX,
    IP6_PREFIX,
    NM_PATH,
    OBJECT_MANAGER_PATH,
    numbered_path,
)

log = logging.getLogger("netevd.networkmanager")

BUS_NAME = "org.freedesktop.NetworkManager"
DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
_SIGNAL = f"type='signal',sender='{BUS_NAME}'"
_CHANGED = f"{_SIGNAL},interface='{PROPERTIES_INTERFACE}',member='PropertiesChanged'"
MATCH_RULES = (
    f"type='signal',sender='{DBUS_NAME}',path='{DBUS_PATH}',interface='{DBUS_NAME}',"
    f"member='NameOwnerChanged',arg0='{BUS_NAME}'",
    f"{_SIGNAL},interface='{DEVICE_INTERFACE}',member='StateChanged',"
    f"path_namespace='{DEVICE_PREFIX.rstrip('/')}'",
    f"{_SIGNAL},interface='{NM_INTERFACE}',path='{NM_PATH}'",
    f"{_SIGNAL},interface='{OBJECT_MANAGER_INTERFACE}',path='{OBJECT_MANAGER_PATH}'",
    f"{_CHANGED},path='{NM_PATH}',arg0='{NM_INTERFACE}'",
    *(
        f"{_CHANGED},path_namespace='{prefix.rstrip('/')}',arg0='{interface}'"
        for prefix, interface in (
            (DEVICE_PREFIX, DEVICE_INTERFACE),
            (ACTIVE_PREFIX, ACTIVE_INTERFACE),
            (IP4_PREFIX, IP4_INTERFACE),
            (IP6_PREFIX, IP6_INTERFACE),
        )
    ),
)
DEVICES = "devices"  # the coverage key of GetDevices' reply (DeviceAdded, DeviceRemoved)
CALL_TIMEOUT = 10.0
SNAPSHOT_CONCURRENCY = 32  # well below dbus-daemon's limit of pending replies per connection
BACKOFF_MIN = 0.25
BACKOFF_MAX = 30.0
LOG_EVERY = 100  # after the first ten of a kind, one warning per this many rejected messages


class CallFailed(Exception):
    """A method call was answered with a D-Bus error."""


class NotReady(Exception):
    """The name's owner has no manager object yet (it is starting)."""


def kernel_ifindex(name: str) -> int | None:
    """The ifindex of link *name* in this network namespace (one ioctl), None if none."""
    if not name or interface_name_problem(name):
        return None
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class _Step:
    """What one signal does to one device: learn, then emit, once every object is known."""

    device: str
    serial: int  # 0: nothing to check against the snapshot's coverage
    origin: str  # the coverage key of the object the signal is about
    emit: Callable[[], list[Event]]
    learn: Callable[[], None] | None = None
    fetch_device: bool = True  # fetch the device first if nobody has described it


@dataclass(eq=False)
class _Session:
    """One bus connection: the owner being followed and what is in flight for it."""

    bus: MessageBus
    tracker: Tracker
    inbox: asyncio.Queue[Message | None] = field(default_factory=asyncio.Queue)
    owner: str = ""
    covered: dict[str, int] = field(default_factory=dict)  # key -> serial of its reply
    chains: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # per device path
    snapshots: int = 0
    starting: bool = False  # the owner has not exported its manager object yet

    def drop_chains(self) -> None:
        for task in self.chains.values():
            task.cancel()
        self.chains.clear()

    def is_covered(self, step: _Step) -> bool:
        return bool(step.serial) and step.serial <= self.covered.get(step.origin, 0)


class NetworkManagerSource:
    def __init__(
        self,
        emit: Callable[[Event], None],
        *,
        env: Mapping[str, str],
        call_timeout: float = CALL_TIMEOUT,
        backoff_max: float = BACKOFF_MAX,
        metrics: Metrics | None = None,
        ifindex: IfindexLookup = kernel_ifindex,
    ) -> None:
        self._emit = emit
        self._metrics = metrics
        self._env = env
        self._timeout = call_timeout
        self._backoff_max = backoff_max
        self._ifindex = ifindex
        self._up: bool | None = None
        # rejected.<reason> (Malformation values and "sender"), call.<member>.<ok|error|
        # timeout>, reconnects; mirrored into the Prometheus metrics.
        self.counts: Counter[str] = Counter()

    async def run(self) -> None:
        backoff = BACKOFF_MIN
        while True:
            healthy = False
            try:
                bus = await self._connect()
            except Exception as exc:
                self._down(f"system bus unreachable: {_text(exc)}")
            else:
                reason, healthy = await self._session(bus)
                self._down(reason)
            if healthy:
                backoff = BACKOFF_MIN
            self._count("reconnects")
            log.info("networkmanager.reconnect in=%.2fs", backoff)
            await asyncio.sleep(backoff)  # backoff before reconnecting, not a poll
            backoff = min(backoff * 2, self._backoff_max)

    async def _connect(self) -> MessageBus:
        address = self._env.get("DBUS_SYSTEM_BUS_ADDRESS")
        bus = MessageBus(bus_address=address) if address else MessageBus(bus_type=BusType.SYSTEM)
        try:
            return await asyncio.wait_for(bus.connect(), self._timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                bus.disconnect()
            raise

    async def _session(self, bus: MessageBus) -> tuple[str, bool]:
        """Follow NetworkManager over *bus* until the connection ends: (why, was it useful)."""
        session = _Session(bus, Tracker(self._ifindex))
        try:
            await self._follow(session)
            reason = "system bus connection lost"
        except Exception as exc:
            reason = f"system bus session failed: {_text(exc)}"
        finally:
            session.drop_chains()
            with contextlib.suppress(Exception):
                bus.disconnect()
        log.warning("networkmanager.lost reason=%r", reason)
        return reason, session.snapshots > 0

    async def _follow(self, session: _Session) -> None:
        bus, inbox = session.bus, session.inbox
        bus.add_message_handler(partial(_enqueue, inbox))
        watch = asyncio.ensure_future(bus.wait_for_disconnect())  # type: ignore[no-untyped-call]
        watch.add_done_callback(partial(_on_disconnect, inbox))
        try:
            for rule in MATCH_RULES:
                await self._call(session, DBUS_NAME, DBUS_PATH, DBUS_NAME, "AddMatch", "s", [rule])
            await self._set_owner(session, await self._current_owner(session))
            while (message := await inbox.get()) is not None:
                await self._on_signal(session, message)
        finally:
            watch.cancel()

    async def _current_owner(self, session: _Session) -> str:
        try:
            reply = await self._call(
                session, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", "s", [BUS_NAME]
            )
        except CallFailed:  # org.freedesktop.DBus.Error.NameHasNoOwner
            return ""
        owner = reply.body[0] if reply.signature == "s" else ""
        return owner if isinstance(owner, str) else ""

    async def _set_owner(self, session: _Session, owner: str) -> None:
        """Follow *owner* ("" = nobody): forget the old one's objects, snapshot the new one."""
        session.drop_chains()
        session.covered.clear()
        session.tracker.reset()
        session.owner = owner
        session.starting = False
        if not owner:
            self._down("NetworkManager is not on the bus (waiting for it to return)")
            return
        log.info("networkmanager.owner unique_name=%s", owner)
        await self._try_snapshot(session)

    async def _try_snapshot(self, session: _Session) -> None:
        try:
            await self._snapshot(session)
        except NotReady as exc:
            # It owns its name before it exports its objects; InterfacesAdded of the manager
            # object says when it has (no polling).
            session.starting = True
            log.info("networkmanager.starting %s", exc)
            self._down("NetworkManager is starting (waiting for its manager object)")

    # -- snapshot -----------------------------------------------------------------------------

    async def _snapshot(self, session: _Session) -> None:
        try:
            reply = await self._call(session, session.owner, NM_PATH, NM_INTERFACE, "GetDevices")
        except CallFailed as exc:
            raise NotReady(str(exc)) from None
        session.covered[DEVICES] = reply.serial
        paths = decode_device_list(reply.signature, reply.body)
        if isinstance(paths, Malformed):
            self._reject(paths.reason, paths.detail)
            raise CallFailed(f"GetDevices answer not believed: {paths.detail}")
        manager = await self._fetch(session, NM_PATH, NM_INTERFACE)
        await self._take_snapshot(session, paths, manager)

    async def _take_snapshot(
        self, session: _Session, paths: Sequence[str], manager: object
    ) -> None:
        """Describe *paths* and emit the ManagerSnapshot (with *manager*'s State, Connectivity)."""
        limit = asyncio.Semaphore(SNAPSHOT_CONCURRENCY)
        await asyncio.gather(*(self._describe_device(session, path, limit) for path in paths))
        tracker = session.tracker
        entries = (tracker.snapshot_entry(path) for path in paths)
        found = tuple(entry for entry in entries if entry is not None)
        state = manager if isinstance(manager, ManagerProps) else ManagerProps()
        self._emit(ManagerSnapshot(NAME, found, tracker.manager_snapshot(state)))
        session.snapshots += 1
        self._up = True
        self._emit(SourceStatus(NAME, True, f"owner {session.owner}, {len(found)} devices"))

    async def _on_manager_added(self, session: _Session, serial: int, props: ManagerProps) -> None:
        """NetworkManager has set up its manager object: the snapshot is in the signal.

        Its devices come after it, each announced by InterfacesAdded and DeviceAdded, so
        following the stream from here shows them from their first state (unmanaged) on."""
        session.starting = False
        session.covered[DEVICES] = session.covered[NM_PATH] = serial
        await self._take_snapshot(session, props.devices or (), props)

    async def _describe_device(
        self, session: _Session, path: str, limit: asyncio.Semaphore
    ) -> None:
        """Fetch a device and every object it refers to."""
        async with limit:
            await self._fetch(session, path, DEVICE_INTERFACE)
            for ref, interface in session.tracker.missing(path):
                await self._fetch(session, ref, interface)

    async def _fetch(self, session: _Session, path: str, interface: str) -> object:
        """GetAll of one object, learned by the tracker; None when it is gone or not believed."""
        try:
            reply = await self._call(
                session, session.owner, path, PROPERTIES_INTERFACE, "GetAll", "s", [interface]
            )
        except CallFailed as exc:  # gone between being named and being asked for
            log.debug("networkmanager.fetch.gone path=%s error=%r", path, str(exc))
            session.tracker.mark_absent(path)
            return None
        # Signals about *path* sent before this reply are already in it (one sender's messages
        # arrive in order, numbered by its serials): the stream skips them.
        session.covered[path] = reply.serial
        props = decode_get_all(interface, reply.signature, reply.body)
        if isinstance(props, Malformed):
            self._reject(props.reason, f"{path}: {props.detail}")
            session.tracker.mark_absent(path)
            return None
        if not isinstance(props, ManagerProps):
            session.tracker.learn(path, props)
        return props

    # -- stream -------------------------------------------------------------------------------

    async def _on_signal(self, session: _Session, message: Message) -> None:
        if message.sender == DBUS_NAME:
            change = decode_name_owner_changed(message.signature, message.body)
            if message.member != "NameOwnerChanged" or change is None or change[0] != BUS_NAME:
                return
            if change[1] != session.owner:
                await self._set_owner(session, change[1])
            return
        path = message.path or ""
        if not (path == OBJECT_MANAGER_PATH or path.startswith(NM_PATH)):
            return
        if not session.owner or message.sender != session.owner:
            self._reject("sender", f"{message.sender} is not {BUS_NAME}'s owner")
            return
        decoded = decode_signal(
            path, message.interface or "", message.member or "", message.signature, message.body
        )
        if isinstance(decoded, ManagerAdded):
            if session.starting:
                await self._on_manager_added(session, message.serial, decoded.props)
            return
        if session.starting:
            return  # nothing but the manager object's arrival matters before the snapshot
        self._on_decoded(session, message, decoded)

    def _on_decoded(self, session: _Session, message: Message, decoded: Decoded) -> None:
        tracker, serial = session.tracker, message.serial
        match decoded:
            case DeviceStateChanged(path, change):
                emit = partial(tracker.state_changed, path, change)
                self._submit(session, _Step(path, serial, path, emit))
            case DeviceChanged(path, props):
                learn = partial(tracker.learn, path, props)
                step = _Step(path, serial, path, partial(tracker.device_changed, path), learn)
                self._submit(session, step)
            case ObjectAdded(path, DeviceProps() as props):
                learn = partial(tracker.learn, path, props)
                self._submit(session, _Step(path, serial, path, list, learn, fetch_device=False))
            case (
                ObjectAdded(path, props)
                | ConnectionChanged(path, props)
                | IpConfigChanged(path, props)
            ):
                if serial > session.covered.get(path, 0):
                    tracker.learn(path, props)
                    self._refresh_users(session, path)
            case DeviceAdded(path):
                self._submit(session, _Step(path, serial, DEVICES, partial(tracker.announce, path)))
            case DeviceRemoved(path):
                emit = partial(tracker.removed, path)
                self._submit(session, _Step(path, serial, DEVICES, emit, fetch_device=False))
            case ObjectRemoved(path):
                self._on_removed(session, path)
            case ManagerChanged(props) if serial > session.covered.get(NM_PATH, 0):
                state = message.member == "StateChanged"
                for event in tracker.manager_changed(props, state=state):
                    self._emit(event)
            case Malformed(reason, detail):
                self._reject(reason, detail)
            case Ignored(why):
                log.debug("networkmanager.ignored %s", why)

    def _refresh_users(self, session: _Session, path: str) -> None:
        for device in session.tracker.users(path):
            emit = partial(session.tracker.refresh, device)
            self._submit(session, _Step(device, 0, device, emit, fetch_device=False))

    def _on_removed(self, session: _Session, path: str) -> None:
        if numbered_path(DEVICE_PREFIX, path) is not None:
            emit = partial(session.tracker.removed, path)
            self._submit(session, _Step(path, 0, path, emit, fetch_device=False))
            return
        session.tracker.forget(path)

    def _submit(self, session: _Session, step: _Step) -> None:
        """Run *step* now if it needs no round trip, else after the device's earlier steps."""
        tracker = session.tracker
        previous = session.chains.get(step.device)
        if previous is None and not (step.fetch_device and tracker.unknown(step.device)):
            if session.is_covered(step):
                return
            if step.learn is not None:
                step.learn()
            if not tracker.missing(step.device):
                self._emit_all(step.emit())
                return
            step = replace(step, serial=0, learn=None, fetch_device=False)  # learned already
        task = asyncio.create_task(self._run_step(session, previous, step))
        session.chains[step.device] = task
        task.add_done_callback(partial(_forget, session.chains, step.device))

    async def _run_step(
        self, session: _Session, previous: asyncio.Task[None] | None, step: _Step
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # only its order matters here, not its outcome
        tracker = session.tracker
        try:
            if step.fetch_device and tracker.unknown(step.device):
                await self._describe_device(session, step.device, asyncio.Semaphore())
                self._emit_all(tracker.announce(step.device))
            if session.is_covered(step):
                return
            if step.learn is not None:
                step.learn()
            for path, interface in tracker.missing(step.device):
                await self._fetch(session, path, interface)
        except (TimeoutError, OSError) as exc:  # the bus went away mid-call
            log.info("networkmanager.fetch.failed device=%s error=%r", step.device, _text(exc))
        self._emit_all(step.emit())

    def _emit_all(self, events: Sequence[Event]) -> None:
        for event in events:
            self._emit(event)

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
        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
        try:
            reply = await asyncio.wait_for(session.bus.call(message), self._timeout)
        except TimeoutError:
            self._count(f"call.{member}.timeout")
            raise
        if reply.message_type is MessageType.ERROR:
            self._count(f"call.{member}.error")
            raise CallFailed(f"{interface}.{member} on {path}: {reply.error_name}")
        self._count(f"call.{member}.ok")
        return reply

    def _count(self, key: str) -> None:
        self.counts[key] += 1
        if self._metrics is None:
            return
        kind, _, rest = key.partition(".")
        if kind == "rejected":
            self._metrics.dbus_rejected.labels(NAME, rest).inc()
        elif kind == "reconnects":
            self._metrics.source_reconnects.labels(NAME).inc()
        elif kind == "call":
            member, _, result = rest.rpartition(".")
            self._metrics.dbus_calls.labels(NAME, member).inc()
            if result != "ok":
                self._metrics.dbus_errors.inc()

    def _down(self, reason: str) -> None:
        if self._up is False:
            log.debug("networkmanager.still_down reason=%r", reason)
            return
        self._up = False
        self._emit(SourceStatus(NAME, False, reason))

    def _reject(self, reason: str, detail: str) -> None:
        key = f"rejected.{reason}"
        self._count(key)
        count = self.counts[key]
        level = logging.WARNING if count <= 10 or count % LOG_EVERY == 0 else logging.DEBUG
        log.log(
            level, "networkmanager.rejected reason=%s count=%d detail=%r", reason, count, detail
        )


def _enqueue(inbox: asyncio.Queue[Message | None], message: Message) -> None:
    if message.message_type is MessageType.SIGNAL:
        inbox.put_nowait(message)


def _on_disconnect(inbox: asyncio.Queue[Message | None], done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()  # retrieved: the reason is logged by whoever ends the session
    inbox.put_nowait(None)


def _forget(chains: dict[str, asyncio.Task[None]], key: str, task: asyncio.Task[None]) -> None:
    if chains.get(key) is task:
        del chains[key]


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
