"""What the NetworkManager source knows of each device, and the events a change makes.

No I/O but the injected ifindex lookup: everything here is driven by decoded signals and
replies, so it is unit-tested with the recorded ones. NetworkManager's device objects carry no
ifindex on D-Bus (1.42 has no such property), so a device's link is found by its ``Interface``
name in the kernel (or its ``IpInterface`` when the device itself has no link, a modem say), once,
and again only when the name changes. A device whose name names no link is skipped.

What a device event carries (strings; "" = NetworkManager reports none):

- ``DeviceState``, ``Reason``: the state and its reason; after a ``StateChanged`` signal, the
  signal's own values (never a re-read, which would race with the next transition), plus
  ``DeviceStateOld``, the signal's old state.
- ``Interface``, ``Name`` (the same: the link's name before the kernel's message arrives),
  ``IpInterface``.
- ``ConnectionId``, ``ConnectionUuid``: of the device's active connection, only while it has one.
  NetworkManager drops the active connection *before* it signals ``disconnected`` (30), so these
  are then simply absent: the engine's state keeps the earlier values.
- ``Ip4Gateway``, ``Ip6Gateway``: of the device's IP4Config/IP6Config objects, when known.
- ``Ip4Addresses``, ``Ip6Addresses``: their ``AddressData``, space-separated ``address/prefix``.
- ``Ip4Nameservers``, ``Ip4Domains`` (space-separated), ``Ip4Routes`` (``dest/prefix next-hop
  metric`` entries joined by ``;``; ``-`` for no next hop), the same for IPv6.
- ``Dhcp4Options``, ``Dhcp6Options``: the device's DHCP4Config/DHCP6Config ``Options``, a JSON
  object of strings ("" without a lease).

A state change carries all of them; any other change carries only what it changed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from netevd.core.events import (
    NETWORKMANAGER,
    Event,
    ManagerChanged,
    ManagerLinkChanged,
    ManagerLinkRemoved,
    Properties,
)
from netevd.sources.networkmanager_decode import (
    ACTIVE_INTERFACE,
    DHCP4_INTERFACE,
    DHCP6_INTERFACE,
    IP4_INTERFACE,
    IP6_INTERFACE,
    ConnectionProps,
    DeviceProps,
    DhcpConfigProps,
    IpConfigProps,
    ManagerProps,
    SettingsProps,
    StateChange,
)

log = logging.getLogger("netevd.networkmanager")

NAME = NETWORKMANAGER
# The properties a device event may carry, in the order they are listed.
DEVICE_PROPERTIES = (
    "DeviceState",
    "DeviceStateOld",
    "Reason",
    "Interface",
    "IpInterface",
    "Name",
    "ConnectionId",
    "ConnectionUuid",
    "Ip4Gateway",
    "Ip6Gateway",
    "Ip4Addresses",
    "Ip6Addresses",
    "Ip4Nameservers",
    "Ip6Nameservers",
    "Ip4Domains",
    "Ip6Domains",
    "Ip4Routes",
    "Ip6Routes",
    "Dhcp4Options",
    "Dhcp6Options",
)
MANAGER_PROPERTIES = ("State", "Connectivity", "Hostname")
Learned = DeviceProps | ConnectionProps | IpConfigProps | DhcpConfigProps
_STATE_KEYS = frozenset({"DeviceState", "DeviceStateOld", "Reason"})
_IP_KEYS = ("Gateway", "Addresses", "Nameservers", "Domains", "Routes")
IfindexLookup = Callable[[str], "int | None"]


@dataclass
class Device:
    """One NetworkManager device as learned so far."""

    props: DeviceProps = field(default_factory=DeviceProps)
    index: int | None = None
    announced: bool = False  # the engine has heard of it (snapshot, DeviceAdded, a state)
    shown: dict[str, str] = field(default_factory=dict)  # what the engine has, merged


P = TypeVar("P", DeviceProps, IpConfigProps, DhcpConfigProps)


def _merge(old: P, new: P) -> P:
    changes = {k: getattr(new, k) for k in new.__slots__ if getattr(new, k) is not None}
    return replace(old, **changes)


class Tracker:
    """Devices, their active connections and IP configurations, and the manager's state."""

    def __init__(self, ifindex: IfindexLookup) -> None:
        self._ifindex = ifindex
        self.devices: dict[str, Device] = {}
        self.connections: dict[str, ConnectionProps] = {}
        self.ip_configs: dict[str, IpConfigProps] = {}
        self.dhcp_configs: dict[str, DhcpConfigProps] = {}
        self.absent: set[str] = set()  # objects a fetch found gone: not asked for again
        self.manager: dict[str, str] = {}

    # -- learning -------------------------------------------------------------------------------

    def learn(self, path: str, props: Learned) -> None:
        """Properties of the object at *path* (GetAll, InterfacesAdded, PropertiesChanged)."""
        self.absent.discard(path)
        match props:
            case DeviceProps():
                device = self.devices.setdefault(path, Device())
                device.props = _merge(device.props, props)
            case ConnectionProps():
                old = self.connections.get(path, ConnectionProps())
                self.connections[path] = ConnectionProps(
                    props.id if props.id is not None else old.id,
                    props.uuid if props.uuid is not None else old.uuid,
                )
            case IpConfigProps():
                self.ip_configs[path] = _merge(self.ip_configs.get(path, IpConfigProps()), props)
            case DhcpConfigProps():
                known = self.dhcp_configs.get(path, DhcpConfigProps())
                self.dhcp_configs[path] = _merge(known, props)

    def forget(self, path: str) -> None:
        """InterfacesRemoved of an active connection or IP configuration."""
        self.connections.pop(path, None)
        self.ip_configs.pop(path, None)
        self.dhcp_configs.pop(path, None)
        self.absent.discard(path)

    def mark_absent(self, path: str) -> None:
        self.absent.add(path)

    def reset(self) -> None:
        """A new NetworkManager (or a new bus): nothing learned before holds."""
        self.devices.clear()
        self.connections.clear()
        self.ip_configs.clear()
        self.dhcp_configs.clear()
        self.absent.clear()

    def unknown(self, path: str) -> bool:
        """Whether device *path* is neither known nor known to be gone."""
        return path not in self.devices and path not in self.absent

    def missing(self, path: str) -> list[tuple[str, str]]:
        """(object, interface) that device *path* refers to and nobody has told us about."""
        device = self.devices.get(path)
        if device is None:
            return []
        props = device.props
        wanted: tuple[tuple[str | None, str, Mapping[str, object]], ...] = (
            (props.active_connection, ACTIVE_INTERFACE, self.connections),
            (props.ip4_config, IP4_INTERFACE, self.ip_configs),
            (props.ip6_config, IP6_INTERFACE, self.ip_configs),
            (props.dhcp4_config, DHCP4_INTERFACE, self.dhcp_configs),
            (props.dhcp6_config, DHCP6_INTERFACE, self.dhcp_configs),
        )
        return [
            (ref, interface)
            for ref, interface, known in wanted
            if ref and ref not in known and ref not in self.absent
        ]

    def users(self, path: str) -> list[str]:
        """The devices whose active connection, IP or DHCP configuration is *path*."""
        return [
            device_path
            for device_path, device in self.devices.items()
            if path
            in (
                device.props.active_connection,
                device.props.ip4_config,
                device.props.ip6_config,
                device.props.dhcp4_config,
                device.props.dhcp6_config,
            )
        ]

    # -- events ---------------------------------------------------------------------------------

    def snapshot_entry(self, path: str) -> tuple[int, Properties, str] | None:
        """The device's line of a ManagerSnapshot (it is then known to the engine)."""
        device = self.devices.get(path)
        if device is None or self._resolve(path, device) is None or device.index is None:
            return None
        props = self._visible(device)
        device.announced, device.shown = True, dict(props)
        return (device.index, props, "")

    def announce(self, path: str) -> list[Event]:
        """DeviceAdded: the device's whole picture, once."""
        device = self.devices.get(path)
        if device is None or device.announced:
            return []
        return self._emit(path, device, self._visible(device))

    def device_changed(self, path: str) -> list[Event]:
        """After a PropertiesChanged of the device was learned: what it changed, if anything."""
        device = self.devices.get(path)
        if device is None or not device.announced:
            return []  # NetworkManager sets a new device up before DeviceAdded
        return self._emit(path, device, self._changed(device))

    def refresh(self, path: str) -> list[Event]:
        """After an active connection or IP configuration of the device changed."""
        return self.device_changed(path)

    def state_changed(self, path: str, change: StateChange) -> list[Event]:
        """Device.StateChanged: the signal's values, with everything else the device has."""
        device = self.devices.get(path)
        if device is None:
            return []
        device.props = replace(device.props, state=change.new, reason=change.reason)
        props = (("DeviceStateOld", change.old), *self._visible(device))
        return self._emit(path, device, _ordered(props))

    def removed(self, path: str) -> list[Event]:
        device = self.devices.pop(path, None)
        if device is None or not device.announced or device.index is None:
            return []
        return [ManagerLinkRemoved(NAME, device.index)]

    def manager_changed(self, props: ManagerProps, *, state: bool) -> list[Event]:
        """The manager's State (from its StateChanged signal when *state*) or Connectivity."""
        values = {"Connectivity": props.connectivity}
        if state:
            values["State"] = props.state
        changed = tuple(
            (name, value)
            for name, value in values.items()
            if value is not None and (name == "State" or self.manager.get(name) != value)
        )
        if not changed:
            return []
        self.manager.update(changed)
        return [ManagerChanged(NAME, changed)]

    def settings_changed(self, props: SettingsProps) -> list[Event]:
        """The host name NetworkManager reports (Settings.Hostname), when it changed."""
        if props.hostname is None or self.manager.get("Hostname") == props.hostname:
            return []
        self.manager["Hostname"] = props.hostname
        return [ManagerChanged(NAME, (("Hostname", props.hostname),))]

    def manager_snapshot(
        self, props: ManagerProps, settings: SettingsProps | None = None
    ) -> Properties:
        values = (
            ("State", props.state),
            ("Connectivity", props.connectivity),
            ("Hostname", settings.hostname if settings else None),
        )
        found = tuple((name, value) for name, value in values if value is not None)
        self.manager = dict(found)
        return found

    # -- internals ------------------------------------------------------------------------------

    def _visible(self, device: Device) -> Properties:
        props = device.props
        found: dict[str, str] = {}
        if props.state is not None:
            found["DeviceState"] = props.state
        if props.reason is not None:
            found["Reason"] = props.reason
        if props.interface:
            found["Interface"] = found["Name"] = props.interface
        if props.ip_interface is not None:
            found["IpInterface"] = props.ip_interface
        connection = self.connections.get(props.active_connection or "")
        if connection is not None:
            for key, value in (
                ("ConnectionId", connection.id),
                ("ConnectionUuid", connection.uuid),
            ):
                if value:
                    found[key] = value
        for family, ref in (("4", props.ip4_config), ("6", props.ip6_config)):
            found.update(self._ip_config(family, ref))
        for family, ref in (("4", props.dhcp4_config), ("6", props.dhcp6_config)):
            found.update(self._dhcp_config(family, ref))
        return _ordered(found.items())

    def _dhcp_config(self, family: str, ref: str | None) -> dict[str, str]:
        """``DhcpNOptions``: the options as a JSON object; "" once the device has none."""
        config = self.dhcp_configs.get(ref or "")
        if ref == "" or (config is not None and config.options == ()):
            return {f"Dhcp{family}Options": ""}
        if config is None or config.options is None:
            return {}
        text = json.dumps(dict(config.options), sort_keys=True, separators=(",", ":"))
        return {f"Dhcp{family}Options": text}

    def _ip_config(self, family: str, ref: str | None) -> dict[str, str]:
        """``IpNGateway`` and ``IpNAddresses`` (space-separated ``address/prefix``) of the
        device's IP configuration object; "" once it has none ("/")."""
        if ref == "":
            return {f"Ip{family}{key}": "" for key in _IP_KEYS}
        config = self.ip_configs.get(ref or "")
        if config is None:
            return {}
        found: dict[str, str] = {}
        if config.gateway is not None:
            found[f"Ip{family}Gateway"] = config.gateway or ""
        lists = (
            ("Addresses", config.addresses, " "),
            ("Nameservers", config.nameservers, " "),
            ("Domains", config.domains, " "),
            ("Routes", config.routes, ";"),
        )
        for key, values, separator in lists:
            if values is not None:
                found[f"Ip{family}{key}"] = separator.join(values)
        return found

    def _changed(self, device: Device) -> Properties:
        return tuple(
            (key, value)
            for key, value in self._visible(device)
            if key not in _STATE_KEYS and device.shown.get(key) != value
        )

    def _emit(self, path: str, device: Device, props: Properties) -> list[Event]:
        before = device.index
        if self._resolve(path, device) is None or device.index is None:
            return []
        events: list[Event] = []
        if device.announced and before is not None and before != device.index:
            events.append(ManagerLinkRemoved(NAME, before))  # renamed onto another link
            device.announced = False
        if not device.announced:
            props = _ordered({**dict(self._visible(device)), **dict(props)}.items())
            device.announced, device.shown = True, {}
        if props:
            device.shown.update(props)
            events.append(ManagerLinkChanged(NAME, device.index, props))
        return events

    def _resolve(self, path: str, device: Device) -> int | None:
        """The device's ifindex: looked up when unknown or when its name changed."""
        name = device.props.interface or ""
        if device.index is not None and device.shown.get("Interface", name) == name:
            return device.index
        for candidate in (name, device.props.ip_interface or ""):
            index = self._ifindex(candidate) if candidate else None
            if index is not None:
                device.index = index
                return index
        log.debug("networkmanager.skip device=%s interface=%r: no such link", path, name)
        return None


def _ordered(items: Iterable[tuple[str, str]]) -> Properties:
    found = dict(items)
    return tuple((key, found[key]) for key in DEVICE_PROPERTIES if key in found)
