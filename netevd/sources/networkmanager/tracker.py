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
- ``ConnectionId``, ``ConnectionUuid``: of the device's active connection, only while it has one;
  ``ConnectionPath`` (its ``Connection``: the profile's object path), ``ConnectionFilename`` (that
  profile's ``Filename``, "" for one in memory only) and ``ConnectionExternal`` (``1`` when its
  ``StateFlags`` say the activation is external, else ``0``). NetworkManager drops the active
  connection *before* it signals ``disconnected`` (30), so these are then simply absent: the
  engine's state keeps the earlier values.
- ``Ip4Gateway``, ``Ip6Gateway``: of the device's IP4Config/IP6Config objects, when known.
- ``Ip4Addresses``, ``Ip6Addresses``: their ``AddressData``, space-separated ``address/prefix``.
- ``Ip4Nameservers``, ``Ip4Domains`` (space-separated), ``Ip4Routes`` (``dest/prefix next-hop
  metric`` entries joined by ``;``; ``-`` for no next hop), the same for IPv6.
- ``Dhcp4Options``, ``Dhcp6Options``: the device's DHCP4Config/DHCP6Config ``Options``, a JSON
  object of strings ("" without a lease).

A state change carries all of them; any other change carries only what it changed.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import replace

from netevd.core.events import (
    NETWORKMANAGER,
    Event,
    ManagerChanged,
    ManagerLinkChanged,
    ManagerLinkRemoved,
    Properties,
)
from netevd.core.nm_states import DEVICE_PROPERTIES
from netevd.sources.networkmanager.decode import (
    ACTIVE_INTERFACE,
    DHCP4_INTERFACE,
    DHCP6_INTERFACE,
    IP4_INTERFACE,
    IP6_INTERFACE,
    SETTINGS_CONNECTION_INTERFACE,
    ManagerProps,
    SettingsProps,
    StateChange,
)
from netevd.sources.networkmanager.objects import Device, IfindexLookup
from netevd.sources.networkmanager.paths import ACTIVE_PREFIX, numbered_path
from netevd.sources.networkmanager.vpns import VpnTracking

NAME = NETWORKMANAGER
_STATE_KEYS = frozenset({"DeviceState", "DeviceStateOld", "Reason"})
__all__ = ["NAME", "IfindexLookup", "Tracker"]


class Tracker(VpnTracking):
    """Devices, their active connections and IP configurations, the VPN connections
    (netevd.sources.networkmanager.vpns) and the manager's state."""

    def unknown(self, path: str) -> bool:
        """Whether device (or active connection) *path* is neither known nor known to be gone."""
        known = self.connections if numbered_path(ACTIVE_PREFIX, path) else self.devices
        return path not in known and path not in self.absent

    def missing(self, path: str) -> list[tuple[str, str]]:
        """(object, interface) that device (or VPN) *path* refers to and nobody has told us
        about: its active connection and that one's profile, its IP and DHCP configurations."""
        if numbered_path(ACTIVE_PREFIX, path) is not None:
            return self.vpn_missing(path)
        device = self.devices.get(path)
        if device is None:
            return []
        props = device.props
        active = self.connections.get(props.active_connection or "")
        wanted: tuple[tuple[str | None, str, Container[str]], ...] = (
            (props.active_connection, ACTIVE_INTERFACE, self.connections),
            (active.connection if active else None, SETTINGS_CONNECTION_INTERFACE, self.profiles),
            (props.ip4_config, IP4_INTERFACE, self.ip_configs),
            (props.ip6_config, IP6_INTERFACE, self.ip_configs),
            (props.dhcp4_config, DHCP4_INTERFACE, self.dhcp_configs),
            (props.dhcp6_config, DHCP6_INTERFACE, self.dhcp_configs),
        )
        return [(ref or "", kind) for ref, kind, known in wanted if self.wanted(ref, known)]

    def users(self, path: str) -> list[str]:
        """The devices whose active connection (or its profile), IP or DHCP configuration is
        *path*; the VPNs that *path* is, or whose profile or IP configuration it is."""
        found = []
        for device_path, device in self.devices.items():
            props = device.props
            active = self.connections.get(props.active_connection or "")
            refs = (props.active_connection, props.ip4_config, props.ip6_config)
            more = (props.dhcp4_config, props.dhcp6_config, active and active.connection)
            if path in refs + more:
                found.append(device_path)
        for vpn, connection in self.connections.items():
            ours = (vpn, connection.connection, connection.ip4_config, connection.ip6_config)
            if connection.vpn and path in ours:
                found.append(vpn)
        return found

    # -- events ---------------------------------------------------------------------------------

    def snapshot_entry(self, path: str) -> tuple[int, Properties, str] | None:
        """The device's line of a ManagerSnapshot (it is then known to the engine)."""
        device = self.devices.get(path)
        if device is None or self.resolve(path, device) is None or device.index is None:
            return None
        props = self._visible(device)
        device.announced, device.shown = True, dict(props)
        return (device.index, props, "")

    def announce(self, path: str) -> list[Event]:
        """DeviceAdded: the device's whole picture, once (a VPN's: vpn_announce)."""
        if numbered_path(ACTIVE_PREFIX, path) is not None:
            return self.vpn_announce(path)
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
        """After an active connection or IP configuration of the device (or VPN) changed."""
        if numbered_path(ACTIVE_PREFIX, path) is not None:
            return self.vpn_refresh(path)
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
        found.update(self.connection_fields(props.active_connection or ""))
        for family, ref in (("4", props.ip4_config), ("6", props.ip6_config)):
            found.update(self.ip_config_fields(family, ref))
        for family, ref in (("4", props.dhcp4_config), ("6", props.dhcp6_config)):
            found.update(self.dhcp_config_fields(family, ref))
        return _ordered(found.items())

    def _changed(self, device: Device) -> Properties:
        return tuple(
            (key, value)
            for key, value in self._visible(device)
            if key not in _STATE_KEYS and device.shown.get(key) != value
        )

    def _emit(self, path: str, device: Device, props: Properties) -> list[Event]:
        before = device.index
        if self.resolve(path, device) is None or device.index is None:
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


def _ordered(items: Iterable[tuple[str, str]]) -> Properties:
    found = dict(items)
    return tuple((key, found[key]) for key in DEVICE_PROPERTIES if key in found)
