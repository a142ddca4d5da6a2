"""What the NetworkManager source has learned of NetworkManager's objects, and what they say.

Devices, active connections (with their VPN side), profiles (settings connections), IP and DHCP
configurations, each by path, merged from GetAll replies, InterfacesAdded and PropertiesChanged
(netevd.sources.networkmanager.tracker and netevd.sources.networkmanager.vpns turn them into
events). No I/O but the injected ifindex lookup.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Container
from dataclasses import dataclass, field, replace
from typing import TypeVar

from netevd.sources.networkmanager.decode import (
    ConnectionProps,
    DeviceProps,
    DhcpConfigProps,
    IpConfigProps,
    SettingsConnectionProps,
)

log = logging.getLogger("netevd.networkmanager")

Learned = DeviceProps | ConnectionProps | SettingsConnectionProps | IpConfigProps | DhcpConfigProps
IfindexLookup = Callable[[str], "int | None"]
IP_KEYS = ("Gateway", "Addresses", "Nameservers", "Domains", "Routes")
P = TypeVar(
    "P", DeviceProps, ConnectionProps, SettingsConnectionProps, IpConfigProps, DhcpConfigProps
)


@dataclass
class Device:
    """One NetworkManager device as learned so far."""

    props: DeviceProps = field(default_factory=DeviceProps)
    index: int | None = None
    announced: bool = False  # the engine has heard of it (snapshot, DeviceAdded, a state)
    shown: dict[str, str] = field(default_factory=dict)  # what the engine has, merged


def merge(old: P, new: P) -> P:
    """*old* with every property *new* carries (None: not carried)."""
    changes = {k: getattr(new, k) for k in new.__slots__ if getattr(new, k) is not None}
    return replace(old, **changes)


class Objects:
    """NetworkManager's objects by path, and the values netevd derives from them."""

    def __init__(self, ifindex: IfindexLookup) -> None:
        self._ifindex = ifindex
        self.devices: dict[str, Device] = {}
        self.connections: dict[str, ConnectionProps] = {}  # active connections
        self.profiles: dict[str, SettingsConnectionProps] = {}  # settings connections
        self.ip_configs: dict[str, IpConfigProps] = {}
        self.dhcp_configs: dict[str, DhcpConfigProps] = {}
        self.absent: set[str] = set()  # objects a fetch found gone: not asked for again
        self.manager: dict[str, str] = {}

    def learn(self, path: str, props: Learned) -> None:
        """Properties of the object at *path* (GetAll, InterfacesAdded, PropertiesChanged)."""
        self.absent.discard(path)
        match props:
            case DeviceProps():
                device = self.devices.setdefault(path, Device())
                device.props = merge(device.props, props)
            case ConnectionProps():
                self.connections[path] = merge(self.connections.get(path, props), props)
            case SettingsConnectionProps():
                self.profiles[path] = merge(self.profiles.get(path, props), props)
            case IpConfigProps():
                self.ip_configs[path] = merge(self.ip_configs.get(path, IpConfigProps()), props)
            case DhcpConfigProps():
                known = self.dhcp_configs.get(path, DhcpConfigProps())
                self.dhcp_configs[path] = merge(known, props)

    def forget(self, path: str) -> None:
        """InterfacesRemoved of anything but a device."""
        self.connections.pop(path, None)
        self.profiles.pop(path, None)
        self.ip_configs.pop(path, None)
        self.dhcp_configs.pop(path, None)
        self.absent.discard(path)

    def mark_absent(self, path: str) -> None:
        self.absent.add(path)

    def reset(self) -> None:
        """A new NetworkManager (or a new bus): nothing learned before holds."""
        self.devices.clear()
        self.connections.clear()
        self.profiles.clear()
        self.ip_configs.clear()
        self.dhcp_configs.clear()
        self.absent.clear()

    def wanted(self, path: str | None, known: Container[str]) -> bool:
        """Whether *path* names an object that nobody has told us about (and is not gone)."""
        return bool(path) and path not in known and path not in self.absent

    # -- what the objects say -------------------------------------------------------------------

    def connection_fields(self, path: str) -> dict[str, str]:
        """``ConnectionId``, ``ConnectionUuid`` (when set), ``ConnectionPath`` and
        ``ConnectionFilename`` (its profile's; "" when it has none, or none is known) and
        ``ConnectionExternal`` ("1"/"0") of the active connection *path*; {} when unknown."""
        connection = self.connections.get(path)
        if connection is None:
            return {}
        found = {
            key: value
            for key, value in (("ConnectionId", connection.id), ("ConnectionUuid", connection.uuid))
            if value
        }
        if connection.connection is not None:
            profile = self.profiles.get(connection.connection)
            found["ConnectionPath"] = connection.connection
            found["ConnectionFilename"] = (profile.filename or "") if profile else ""
        if connection.external is not None:
            found["ConnectionExternal"] = "1" if connection.external else "0"
        return found

    def ip_config_fields(self, family: str, ref: str | None) -> dict[str, str]:
        """``IpNGateway``, ``IpNAddresses`` (space-separated ``address/prefix``),
        ``IpNNameservers``, ``IpNDomains``, ``IpNRoutes`` of an IP configuration object; ""
        once there is none ("/")."""
        if ref == "":
            return {f"Ip{family}{key}": "" for key in IP_KEYS}
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

    def dhcp_config_fields(self, family: str, ref: str | None) -> dict[str, str]:
        """``DhcpNOptions``: the options as a JSON object; "" once the device has none."""
        config = self.dhcp_configs.get(ref or "")
        if ref == "" or (config is not None and config.options == ()):
            return {f"Dhcp{family}Options": ""}
        if config is None or config.options is None:
            return {}
        text = json.dumps(dict(config.options), sort_keys=True, separators=(",", ":"))
        return {f"Dhcp{family}Options": text}

    def resolve(self, path: str, device: Device) -> int | None:
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
