"""NetworkManager's VPN connections as the source follows them, and the events they make.

A VPN connection is an active connection (``.../ActiveConnection/N``) whose ``Vpn`` is true; the
same object carries ``org.freedesktop.NetworkManager.VPN.Connection`` with its ``VpnState`` and
the ``VpnStateChanged(uu)`` signal. The source learns them from the Manager's
``ActiveConnections`` (fetching the ones nobody described) and from InterfacesAdded. What a VPN
event carries (strings, "" = NetworkManager reports none):

- ``VpnState``, ``Reason``: after ``VpnStateChanged``, the signal's own values (never re-read);
- ``ConnectionId``, ``ConnectionUuid``, ``ConnectionPath``, ``ConnectionFilename``: the VPN's
  profile, as for a device;
- ``DeviceIndex``: the ifindex of the link of its device (``Devices``, the parent device; empty
  once the VPN is deactivated, so the engine keeps the last one);
- ``VpnIpInterface``, ``VpnIpIndex``: the VPN's own IP interface, when it has one: the device
  whose IP configuration object is the VPN's (NetworkManager keeps one IP configuration object
  per interface, nm_l3cfg_ipconfig_acquire(), so a tunnel's device and the VPN share it; a VPN
  without a tunnel shares its parent device's, and has none of its own);
- ``Ip4Gateway``, ``Ip4Addresses``, ``Ip4Nameservers``, ``Ip4Domains``, ``Ip4Routes`` and the
  IPv6 ones: its ``Ip4Config``/``Ip6Config``, as a device's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from netevd.core.events import NETWORKMANAGER, Event, Properties, VpnChanged, VpnRemoved
from netevd.sources.networkmanager.decode import (
    DEVICE_INTERFACE,
    IP4_INTERFACE,
    IP6_INTERFACE,
    SETTINGS_CONNECTION_INTERFACE,
    VPN_INTERFACE,
    ConnectionProps,
)
from netevd.sources.networkmanager.objects import IfindexLookup, Objects
from netevd.sources.networkmanager.paths import ACTIVE_PREFIX, numbered_path
from netevd.sources.networkmanager.signals import VpnChange

VPN_PROPERTIES = (
    "VpnState",
    "Reason",
    "ConnectionId",
    "ConnectionUuid",
    "ConnectionPath",
    "ConnectionFilename",
    "DeviceIndex",
    "VpnIpInterface",
    "VpnIpIndex",
    *(f"Ip{family}{key}" for family in "46" for key in ("Gateway", "Addresses")),
    *(f"Ip{family}{key}" for family in "46" for key in ("Nameservers", "Domains", "Routes")),
)
_SIGNALLED = frozenset({"VpnState", "Reason"})


class VpnTracking(Objects):
    """The VPN connections among the active connections, and what the engine has of each."""

    def __init__(self, ifindex: IfindexLookup) -> None:
        super().__init__(ifindex)
        self.vpn_shown: dict[str, dict[str, str]] = {}  # announced VPNs: what the engine has
        self.active: tuple[str, ...] = ()  # the Manager's ActiveConnections, last heard

    def reset(self) -> None:
        super().reset()
        self.vpn_shown.clear()
        self.active = ()

    def is_vpn(self, path: str) -> bool:
        connection = self.connections.get(path)
        return connection is not None and connection.vpn is True

    def vpn_missing(self, path: str) -> list[tuple[str, str]]:
        """(object, interface) the VPN *path* needs and nobody has told us about."""
        connection = self.connections.get(path)
        if connection is None or not connection.vpn:
            return []
        wanted: list[tuple[str, str]] = []
        if connection.vpn_state is None and path not in self.absent:
            wanted.append((path, VPN_INTERFACE))
        for ref, interface, known in (
            (connection.ip4_config, IP4_INTERFACE, self.ip_configs),
            (connection.ip6_config, IP6_INTERFACE, self.ip_configs),
            (connection.connection, SETTINGS_CONNECTION_INTERFACE, self.profiles),
            (_parent(connection), DEVICE_INTERFACE, self.devices),
        ):
            if self.wanted(ref, known):
                wanted.append((ref or "", interface))
        return wanted

    def active_changed(self, paths: Sequence[str]) -> tuple[list[str], list[str]]:
        """The Manager's ActiveConnections now: (the new ones, the VPNs no longer listed)."""
        before, self.active = set(self.active), tuple(paths)
        gone = [p for p in before - set(paths) if p in self.vpn_shown or self.is_vpn(p)]
        return [p for p in paths if p not in before], sorted(gone)

    # -- events ---------------------------------------------------------------------------------

    def vpn_snapshot(self, paths: Iterable[str]) -> tuple[tuple[int, Properties], ...]:
        """A ManagerSnapshot's VPNs among *paths* (they are then known to the engine)."""
        entries = []
        for path in paths:
            number = numbered_path(ACTIVE_PREFIX, path)
            if number is not None and self.is_vpn(path):
                props = _ordered(self.vpn_fields(path).items())
                self.vpn_shown[path] = dict(props)
                entries.append((number, props))
        return tuple(entries)

    def vpn_announce(self, path: str) -> list[Event]:
        """A VPN heard of for the first time: its whole picture, once."""
        if not self.is_vpn(path) or path in self.vpn_shown:
            return []
        return self._vpn_emit(path, self.vpn_fields(path))

    def vpn_state_changed(self, path: str, change: VpnChange) -> list[Event]:
        """VpnStateChanged: the signal's values, with everything else the VPN has."""
        connection = self.connections.get(path)
        if connection is None or not connection.vpn:
            return []
        self.connections[path] = replace(connection, vpn_state=change.state)
        signalled = {"VpnState": change.state, "Reason": change.reason}
        return self._vpn_emit(path, {**self.vpn_fields(path), **signalled})

    def vpn_refresh(self, path: str) -> list[Event]:
        """After something the VPN refers to changed: what it changed, if anything."""
        shown = self.vpn_shown.get(path)
        if shown is None or not self.is_vpn(path):
            return []
        fields = self.vpn_fields(path).items()
        changed = {k: v for k, v in fields if k not in _SIGNALLED and shown.get(k) != v}
        return self._vpn_emit(path, changed) if changed else []

    def vpn_removed(self, path: str) -> list[Event]:
        shown = self.vpn_shown.pop(path, None)
        self.forget(path)
        number = numbered_path(ACTIVE_PREFIX, path)
        return [VpnRemoved(NETWORKMANAGER, number)] if shown is not None and number else []

    def vpn_fields(self, path: str) -> dict[str, str]:
        connection = self.connections.get(path)
        if connection is None:
            return {}
        found = {k: v for k, v in self.connection_fields(path).items() if k != "ConnectionExternal"}
        if connection.vpn_state is not None:
            found["VpnState"] = connection.vpn_state
        parent = self.devices.get(_parent(connection) or "")
        index = self.resolve(_parent(connection) or "", parent) if parent else None
        if index is not None:
            found["DeviceIndex"] = str(index)
        own = self._own_interface(connection)
        if own is not None:
            found["VpnIpInterface"], found["VpnIpIndex"] = own[0], str(own[1])
        for family, ref in (("4", connection.ip4_config), ("6", connection.ip6_config)):
            found.update(self.ip_config_fields(family, ref))
        return found

    def _own_interface(self, connection: ConnectionProps) -> tuple[str, int] | None:
        """The device, other than its parent, whose IP configuration object is the VPN's."""
        parent = _parent(connection)
        for ref in (connection.ip4_config, connection.ip6_config):
            for path, device in self.devices.items() if ref else ():
                props = device.props
                if path == parent or ref not in (props.ip4_config, props.ip6_config):
                    continue
                name, index = props.ip_interface or props.interface, self.resolve(path, device)
                if name and index is not None:
                    return name, index
        return None

    def _vpn_emit(self, path: str, props: dict[str, str]) -> list[Event]:
        number = numbered_path(ACTIVE_PREFIX, path)
        if number is None:
            return []
        shown = self.vpn_shown.setdefault(path, {})
        shown.update(props)
        return [VpnChanged(NETWORKMANAGER, number, _ordered(props.items()))]


def _parent(connection: ConnectionProps) -> str | None:
    """The VPN's device: the first of its ``Devices`` (None once it has none)."""
    return connection.devices[0] if connection.devices else None


def _ordered(items: Iterable[tuple[str, str]]) -> Properties:
    found = dict(items)
    return tuple((key, found[key]) for key in VPN_PROPERTIES if key in found)
