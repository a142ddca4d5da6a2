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
- ``DeviceAdded``/``DeviceRemoved`` and the Manager's ``StateChanged``;
- the Manager's ``ActiveConnections``, and a VPN connection's ``VpnStateChanged`` (taken from the
  signal, as a device's state) and properties (netevd.sources.networkmanager.vpns); profiles'
  ``Filename`` (``Settings.Connection``), for CONNECTION_FILENAME.

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
import logging
import socket
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from dbus_fast import Message
from dbus_fast.aio import MessageBus

from netevd.bus.connection import DBUS_NAME, DBUS_PATH
from netevd.bus.follow import (
    BusCounters,
    CallFailed,
    call,
    follow_name,
    handled_as_bus_message,
    keep_connected,
    session_end,
)
from netevd.bus.values import Malformed
from netevd.core.events import BUS_NAMES, NETWORKMANAGER, Event, ManagerSnapshot, SourceStatus
from netevd.sources.networkmanager.decode import (
    ACTIVE_INTERFACE,
    DEVICE_INTERFACE,
    DHCP4_INTERFACE,
    DHCP6_INTERFACE,
    IP4_INTERFACE,
    IP6_INTERFACE,
    NM_INTERFACE,
    OBJECT_MANAGER_INTERFACE,
    PROPERTIES_INTERFACE,
    SETTINGS_CONNECTION_INTERFACE,
    SETTINGS_INTERFACE,
    VPN_INTERFACE,
    ManagerProps,
    SettingsProps,
    decode_device_list,
    decode_get_all,
)
from netevd.sources.networkmanager.paths import (
    ACTIVE_PREFIX,
    DEVICE_PREFIX,
    DHCP4_PREFIX,
    DHCP6_PREFIX,
    IP4_PREFIX,
    IP6_PREFIX,
    NM_PATH,
    OBJECT_MANAGER_PATH,
    SETTINGS_PATH,
)
from netevd.sources.networkmanager.session import DEVICES, Session
from netevd.sources.networkmanager.signals import ManagerAdded, decode_signal
from netevd.sources.networkmanager.tracker import NAME, IfindexLookup, Tracker
from netevd.sources.networkmanager.values import interface_name_problem
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.networkmanager")

BUS_NAME = BUS_NAMES[NETWORKMANAGER]
_SIGNAL = f"type='signal',sender='{BUS_NAME}'"
_CHANGED = f"{_SIGNAL},interface='{PROPERTIES_INTERFACE}',member='PropertiesChanged'"
MATCH_RULES = (
    f"type='signal',sender='{DBUS_NAME}',path='{DBUS_PATH}',interface='{DBUS_NAME}',"
    f"member='NameOwnerChanged',arg0='{BUS_NAME}'",
    f"{_SIGNAL},interface='{DEVICE_INTERFACE}',member='StateChanged',"
    f"path_namespace='{DEVICE_PREFIX.rstrip('/')}'",
    f"{_SIGNAL},interface='{VPN_INTERFACE}',member='VpnStateChanged',"
    f"path_namespace='{ACTIVE_PREFIX.rstrip('/')}'",
    f"{_SIGNAL},interface='{NM_INTERFACE}',path='{NM_PATH}'",
    f"{_SIGNAL},interface='{OBJECT_MANAGER_INTERFACE}',path='{OBJECT_MANAGER_PATH}'",
    f"{_CHANGED},path='{NM_PATH}',arg0='{NM_INTERFACE}'",
    f"{_CHANGED},path='{SETTINGS_PATH}',arg0='{SETTINGS_INTERFACE}'",
    *(
        f"{_CHANGED},path_namespace='{prefix.rstrip('/')}',arg0='{interface}'"
        for prefix, interface in (
            (DEVICE_PREFIX, DEVICE_INTERFACE),
            (ACTIVE_PREFIX, ACTIVE_INTERFACE),
            (ACTIVE_PREFIX, VPN_INTERFACE),
            (SETTINGS_PATH, SETTINGS_CONNECTION_INTERFACE),
            (IP4_PREFIX, IP4_INTERFACE),
            (IP6_PREFIX, IP6_INTERFACE),
            (DHCP4_PREFIX, DHCP4_INTERFACE),
            (DHCP6_PREFIX, DHCP6_INTERFACE),
        )
    ),
)
CALL_TIMEOUT = 10.0
SNAPSHOT_CONCURRENCY = 32  # well below dbus-daemon's limit of pending replies per connection
BACKOFF_MAX = 30.0


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
        self._counters = BusCounters(NAME, log, metrics)
        self._env = env
        self._timeout = call_timeout
        self._backoff_max = backoff_max
        self._ifindex = ifindex
        self._up: bool | None = None

    @property
    def counts(self) -> Counter[str]:
        """rejected.<reason> (the Malformation values and "sender"), call.<member>.<ok|error|
        timeout>, reconnects; mirrored into the Prometheus metrics."""
        return self._counters.counts

    async def run(self) -> None:
        await keep_connected(
            self._env, self._timeout, self._backoff_max, self._counters, self._session,
            self._down, log,
        )  # fmt: skip

    async def _session(self, bus: MessageBus) -> tuple[str, bool]:
        """Follow NetworkManager over *bus* until the connection ends: (why, was it useful)."""
        session = Session(bus, Tracker(self._ifindex), self._emit, self._fetch, self._counters)
        reason = await session_end(bus, self._follow(session), session.forget_all, log)
        return reason, session.snapshots > 0

    async def _follow(self, session: Session) -> None:
        await follow_name(
            session.bus, session.inbox, self._counters, self._timeout, MATCH_RULES, BUS_NAME,
            partial(self._set_owner, session), partial(self._on_signal, session),
        )  # fmt: skip

    async def _set_owner(self, session: Session, owner: str) -> None:
        """Follow *owner* ("" = nobody): forget the old one's objects, snapshot the new one."""
        session.forget_all()
        session.owner = owner
        if not owner:
            self._down("NetworkManager is not on the bus (waiting for it to return)")
            return
        log.info("networkmanager.owner unique_name=%s", owner)
        await self._try_snapshot(session)

    async def _try_snapshot(self, session: Session) -> None:
        try:
            await self._snapshot(session)
        except NotReady as exc:
            # It owns its name before it exports its objects; InterfacesAdded of the manager
            # object says when it has (no polling).
            session.starting = True
            log.info("networkmanager.starting %s", exc)
            self._down("NetworkManager is starting (waiting for its manager object)")

    # -- snapshot -----------------------------------------------------------------------------

    async def _snapshot(self, session: Session) -> None:
        try:
            reply = await self._call(session, session.owner, NM_PATH, NM_INTERFACE, "GetDevices")
        except CallFailed as exc:
            raise NotReady(str(exc)) from None
        session.covered[DEVICES] = reply.serial
        paths = decode_device_list(reply.signature, reply.body)
        if isinstance(paths, Malformed):
            self._counters.reject(paths.reason, paths.detail)
            raise CallFailed(f"GetDevices answer not believed: {paths.detail}")
        manager = await self._fetch(session, NM_PATH, NM_INTERFACE)
        await self._take_snapshot(session, paths, manager)

    async def _take_snapshot(self, session: Session, paths: Sequence[str], manager: object) -> None:
        """Describe *paths* and emit the ManagerSnapshot (with *manager*'s State, Connectivity
        and the Settings' Hostname)."""
        settings = await self._fetch(session, SETTINGS_PATH, SETTINGS_INTERFACE)
        limit = asyncio.Semaphore(SNAPSHOT_CONCURRENCY)

        state = manager if isinstance(manager, ManagerProps) else ManagerProps()
        active = state.active_connections or ()

        async def describe(path: str) -> None:
            async with limit:
                if path in active and not session.tracker.unknown(path):
                    await session.fill(path)  # a device's, fetched with it
                else:
                    await session.describe(path)

        await asyncio.gather(*(describe(path) for path in paths))
        await asyncio.gather(*(describe(path) for path in active))  # the VPNs among them
        tracker = session.tracker
        tracker.active_changed(active)
        entries = (tracker.snapshot_entry(path) for path in paths)
        found = tuple(entry for entry in entries if entry is not None)
        named = settings if isinstance(settings, SettingsProps) else SettingsProps()
        manager_props = tracker.manager_snapshot(state, named)
        vpns = tracker.vpn_snapshot(active)
        self._emit(ManagerSnapshot(NAME, found, manager_props, vpns))
        session.snapshots += 1
        self._up = True
        self._emit(SourceStatus(NAME, True, f"owner {session.owner}, {len(found)} devices"))

    async def _on_manager_added(self, session: Session, serial: int, props: ManagerProps) -> None:
        """NetworkManager has set up its manager object: the snapshot is in the signal.

        Its devices come after it, each announced by InterfacesAdded and DeviceAdded, so
        following the stream from here shows them from their first state (unmanaged) on."""
        session.starting = False
        session.covered[DEVICES] = session.covered[NM_PATH] = serial
        await self._take_snapshot(session, props.devices or (), props)

    async def _fetch(self, session: Session, path: str, interface: str) -> object:
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
            self._counters.reject(props.reason, f"{path}: {props.detail}")
            session.tracker.mark_absent(path)
            return None
        if not isinstance(props, ManagerProps | SettingsProps):
            session.tracker.learn(path, props)
        return props

    # -- stream -------------------------------------------------------------------------------

    async def _on_signal(self, session: Session, message: Message) -> None:
        if await handled_as_bus_message(
            message, BUS_NAME, session.owner, partial(self._set_owner, session)
        ):
            return
        path = message.path or ""
        if not (path == OBJECT_MANAGER_PATH or path.startswith(NM_PATH)):
            return
        if not session.owner or message.sender != session.owner:
            self._counters.reject("sender", f"{message.sender} is not {BUS_NAME}'s owner")
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
        session.dispatch(message, decoded)

    # -- plumbing -----------------------------------------------------------------------------

    async def _call(
        self,
        session: Session,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: Sequence[object] = (),
    ) -> Message:
        return await call(
            session.bus,
            self._counters,
            self._timeout,
            destination,
            path,
            interface,
            member,
            signature,
            body,
        )

    def _down(self, reason: str) -> None:
        if self._up is False:
            log.debug("networkmanager.still_down reason=%r", reason)
            return
        self._up = False
        self._emit(SourceStatus(NAME, False, reason))
