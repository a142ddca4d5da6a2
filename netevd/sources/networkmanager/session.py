"""One bus connection's following of NetworkManager: what each signal does, in order per device.

A decoded signal becomes a :class:`SignalStep` of the device it concerns: learn what the signal
says, then emit the events the tracker derives. A step runs at once when nothing it needs is
unknown; otherwise (a device or an object nobody described, a peer that skips InterfacesAdded)
it waits for the GetAll round trips *and* for that device's earlier steps, so each device's
events leave in signal order while other devices go on. Signals sent before a reply that already
reflects them (a snapshot's or a fetch's, compared by the sender's serials) are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TypeVar

from dbus_fast import Message
from dbus_fast.aio import MessageBus

from netevd.bus.follow import BusCounters, Inbox, OrderedChains, text
from netevd.bus.values import Ignored, Malformed
from netevd.core.events import Event
from netevd.sources.networkmanager.decode import (
    ACTIVE_INTERFACE,
    DEVICE_INTERFACE,
    ConnectionProps,
    DeviceProps,
    ManagerProps,
)
from netevd.sources.networkmanager.objects import Learned
from netevd.sources.networkmanager.paths import (
    ACTIVE_PREFIX,
    DEVICE_PREFIX,
    NM_PATH,
    SETTINGS_PATH,
    numbered_path,
)
from netevd.sources.networkmanager.signals import (
    ConnectionChanged,
    DecodedSignal,
    DeviceAdded,
    DeviceChanged,
    DeviceRemoved,
    DeviceStateChanged,
    DhcpConfigChanged,
    IpConfigChanged,
    NmManagerChanged,
    ObjectAdded,
    ObjectRemoved,
    SettingsChanged,
    SettingsConnectionChanged,
    VpnStateChanged,
)
from netevd.sources.networkmanager.tracker import Tracker

log = logging.getLogger("netevd.networkmanager")

DEVICES = "devices"  # the coverage key of GetDevices' reply (DeviceAdded, DeviceRemoved)
DEPTH = 3  # device -> active connection -> its profile; VPN -> its device, IP configurations


@dataclass(frozen=True, slots=True)
class SignalStep:
    """What one signal does to one device: learn, then emit, once every object is known."""

    device: str
    serial: int  # 0: nothing to check against a reply's coverage
    origin: str  # the coverage key of the object the signal is about
    emit: Callable[[], list[Event]]
    learn: Callable[[], None] | None = None
    fetch_device: bool = True  # fetch the device first if nobody has described it


Fetch = Callable[["Session", str, str], Awaitable[object]]


@dataclass(eq=False)
class Session:
    """One bus connection: the owner being followed and what is in flight for it."""

    bus: MessageBus
    tracker: Tracker
    emit: Callable[[Event], None]
    fetch: Fetch  # GetAll of (path, interface), learned by the tracker
    counters: BusCounters
    inbox: Inbox = field(default_factory=asyncio.Queue)
    owner: str = ""
    covered: dict[str, int] = field(default_factory=dict)  # key -> serial of its reply
    chains: OrderedChains[str] = field(default_factory=OrderedChains)  # per device path
    fetching: dict[tuple[str, str], asyncio.Task[object]] = field(default_factory=dict)
    snapshots: int = 0
    starting: bool = False  # the owner has not exported its manager object yet

    def forget_all(self) -> None:
        """A new owner (or none): nothing learned or in flight holds any more."""
        self.chains.cancel_all()
        for task in self.fetching.values():
            task.cancel()
        self.fetching.clear()
        self.covered.clear()
        self.tracker.reset()
        self.starting = False

    def is_covered(self, step: SignalStep) -> bool:
        return bool(step.serial) and step.serial <= self.covered.get(step.origin, 0)

    async def describe(self, path: str) -> None:
        """Fetch a device (or an active connection) and every object it refers to."""
        active = numbered_path(ACTIVE_PREFIX, path) is not None
        await self.fetch_once(path, ACTIVE_INTERFACE if active else DEVICE_INTERFACE)
        await self.fill(path)

    async def fetch_once(self, path: str, interface: str) -> None:
        """GetAll of (*path*, *interface*), shared by every step that needs it meanwhile (a new
        active connection is asked for by its device and by ActiveConnections)."""
        key = (path, interface)
        task = self.fetching.get(key)
        if task is None:
            task = asyncio.ensure_future(self.fetch(self, path, interface))
            self.fetching[key] = task
            task.add_done_callback(partial(_forget, self.fetching, key))
        await asyncio.shield(task)

    async def fill(self, path: str) -> None:
        """Fetch what device or VPN *path* refers to and nobody described, level by level."""
        for _ in range(DEPTH):
            wanted = self.tracker.missing(path)
            if not wanted:
                return
            for ref, interface in wanted:
                await self.fetch_once(ref, interface)

    # -- dispatch -------------------------------------------------------------------------------

    def dispatch(self, message: Message, decoded: DecodedSignal) -> None:
        """What a decoded signal from the owner does."""
        tracker, serial = self.tracker, message.serial
        match decoded:
            case DeviceStateChanged(path, change):
                emit = partial(tracker.state_changed, path, change)
                self.submit(SignalStep(path, serial, path, emit))
            case VpnStateChanged(path, vpn):
                emit = partial(tracker.vpn_state_changed, path, vpn)
                self.submit(SignalStep(path, serial, path, emit))
            case DeviceChanged(path, props):
                learn = partial(tracker.learn, path, props)
                emit = partial(tracker.device_changed, path)
                self.submit(SignalStep(path, serial, path, emit, learn))
            case ObjectAdded(path, DeviceProps() as props):
                learn = partial(tracker.learn, path, props)
                self.submit(SignalStep(path, serial, path, list, learn, fetch_device=False))
            case (
                ObjectAdded(path, props)
                | ConnectionChanged(path, props)
                | SettingsConnectionChanged(path, props)
                | IpConfigChanged(path, props)
                | DhcpConfigChanged(path, props)
            ) if serial > self.covered.get(path, 0):
                self._learned(path, serial, props, whole=isinstance(decoded, ObjectAdded))
            case DeviceAdded(path):
                self.submit(SignalStep(path, serial, DEVICES, partial(tracker.announce, path)))
            case DeviceRemoved(path):
                emit = partial(tracker.removed, path)
                self.submit(SignalStep(path, serial, DEVICES, emit, fetch_device=False))
            case ObjectRemoved(path):
                self._removed(path)
            case NmManagerChanged(props) if serial > self.covered.get(NM_PATH, 0):
                self._manager_changed(message, props)
            case SettingsChanged(props) if serial > self.covered.get(SETTINGS_PATH, 0):
                self._emit_all(tracker.settings_changed(props))
            case Malformed(reason, detail):
                self.counters.reject(reason, detail)
            case Ignored(why):
                log.debug("networkmanager.ignored %s", why)

    def _removed(self, path: str) -> None:
        if numbered_path(DEVICE_PREFIX, path) is not None:
            emit = partial(self.tracker.removed, path)
        elif self.tracker.is_vpn(path) or path in self.tracker.vpn_shown:
            emit = partial(self.tracker.vpn_removed, path)
        else:
            self.tracker.forget(path)
            return
        self.submit(SignalStep(path, 0, path, emit, fetch_device=False))

    def _learned(self, path: str, serial: int, props: Learned, *, whole: bool) -> None:
        """What an object says, and a refresh of every device and VPN that refers to it. A
        change of an active connection nobody described yet is not a picture of it: it waits
        for the fetch in flight (and is dropped when that reply already has it)."""
        tracker = self.tracker
        if not whole and isinstance(props, ConnectionProps) and tracker.unknown(path):
            if path in self.chains:
                learn = partial(tracker.learn, path, props)
                emit = partial(tracker.refresh, path)
                self.submit(SignalStep(path, serial, path, emit, learn, fetch_device=False))
            return
        tracker.learn(path, props)
        for user in tracker.users(path):
            self.submit(SignalStep(user, 0, user, partial(tracker.refresh, user)))

    def _manager_changed(self, message: Message, props: ManagerProps) -> None:
        state = message.member == "StateChanged"
        self._emit_all(self.tracker.manager_changed(props, state=state))
        if props.active_connections is not None:
            self._active_connections(message.serial, props.active_connections)

    def _active_connections(self, serial: int, paths: Sequence[str]) -> None:
        """The Manager's ActiveConnections changed: a new one nobody described is fetched (a
        VPN among them is then announced), a VPN no longer listed is gone."""
        added, gone = self.tracker.active_changed(paths)
        for path in added:
            self.submit(SignalStep(path, serial, path, partial(self.tracker.announce, path)))
        for path in gone:
            emit = partial(self.tracker.vpn_removed, path)
            self.submit(SignalStep(path, 0, path, emit, fetch_device=False))

    # -- ordering -------------------------------------------------------------------------------

    def submit(self, step: SignalStep) -> None:
        """Run *step* now if it needs no round trip, else after the device's earlier steps."""
        tracker = self.tracker
        if step.device not in self.chains and not (
            step.fetch_device and tracker.unknown(step.device)
        ):
            if self.is_covered(step):
                return
            if step.learn is not None:
                step.learn()
            if not tracker.missing(step.device):
                self._emit_all(step.emit())
                return
            step = replace(step, serial=0, learn=None, fetch_device=False)  # learned already
        self.chains.add(step.device, partial(self._run, step))

    async def _run(self, step: SignalStep) -> None:
        tracker = self.tracker
        try:
            if step.fetch_device and tracker.unknown(step.device):
                await self.describe(step.device)
                self._emit_all(tracker.announce(step.device))
            if self.is_covered(step):
                return
            if step.learn is not None:
                step.learn()
            await self.fill(step.device)
        except Exception as exc:  # the bus went away mid-call: the change itself still holds
            log.info("networkmanager.fetch.failed device=%s error=%r", step.device, text(exc))
        self._emit_all(step.emit())

    def _emit_all(self, events: Sequence[Event]) -> None:
        for event in events:
            self.emit(event)


K = TypeVar("K")
T = TypeVar("T")


def _forget(chains: dict[K, asyncio.Task[T]], key: K, task: asyncio.Task[T]) -> None:
    if chains.get(key) is task:
        del chains[key]
