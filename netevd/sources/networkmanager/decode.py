"""NetworkManager's objects' properties and method replies, decoded (pure: no I/O, never raises).

A dict that fails any check (:mod:`netevd.sources.networkmanager.values`) is malformed as a
whole: a peer that lies about one value is not believed about the others. Properties
NetworkManager has but netevd does not follow are ignored unchecked; a followed property missing
from a dict is left ``None`` (PropertiesChanged carries only what changed; NetworkManager 1.42
sends a device's properties one per signal, an IP configuration's several at once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from dbus_fast import Variant

from netevd.bus.values import Ignored, Malformation, Malformed
from netevd.sources.networkmanager.active import (
    ConnectionProps as ConnectionProps,
)
from netevd.sources.networkmanager.active import (
    SettingsConnectionProps as SettingsConnectionProps,
)
from netevd.sources.networkmanager.active import (
    decode_connection_props,
    decode_settings_connection_props,
    decode_vpn_props,
    object_list_value,
)
from netevd.sources.networkmanager.fields import Check
from netevd.sources.networkmanager.fields import checked as _checked
from netevd.sources.networkmanager.fields import fields_of as _fields
from netevd.sources.networkmanager.fields import numbered as _numbered
from netevd.sources.networkmanager.fields import optional as _optional
from netevd.sources.networkmanager.paths import (
    ACTIVE_PREFIX,
    DEVICE_PREFIX,
    DHCP4_PREFIX,
    DHCP6_PREFIX,
    IP4_PREFIX,
    IP6_PREFIX,
    numbered_path,
)
from netevd.sources.networkmanager.values import (
    address_data_value,
    connectivity_name,
    device_reason_name,
    device_state_name,
    dhcp_options_value,
    domains_value,
    gateway_value,
    hostname_value,
    iface_value,
    nameserver_data_value,
    nameservers6_value,
    nm_state_name,
    object_value,
    route_data_value,
)

NM_INTERFACE = "org.freedesktop.NetworkManager"
DEVICE_INTERFACE = "org.freedesktop.NetworkManager.Device"
ACTIVE_INTERFACE = "org.freedesktop.NetworkManager.Connection.Active"
IP4_INTERFACE = "org.freedesktop.NetworkManager.IP4Config"
IP6_INTERFACE = "org.freedesktop.NetworkManager.IP6Config"
DHCP4_INTERFACE = "org.freedesktop.NetworkManager.DHCP4Config"
DHCP6_INTERFACE = "org.freedesktop.NetworkManager.DHCP6Config"
SETTINGS_INTERFACE = "org.freedesktop.NetworkManager.Settings"
SETTINGS_CONNECTION_INTERFACE = "org.freedesktop.NetworkManager.Settings.Connection"
VPN_INTERFACE = "org.freedesktop.NetworkManager.VPN.Connection"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER_INTERFACE = "org.freedesktop.DBus.ObjectManager"


@dataclass(frozen=True, slots=True)
class DeviceProps:
    """Followed ``org.freedesktop.NetworkManager.Device`` properties; None = not in the dict.

    Object paths are ``""`` where NetworkManager says ``/`` (no such object)."""

    interface: str | None = None
    ip_interface: str | None = None
    state: str | None = None
    reason: str | None = None  # from StateReason (uu): (state, reason)
    active_connection: str | None = None
    ip4_config: str | None = None
    ip6_config: str | None = None
    dhcp4_config: str | None = None
    dhcp6_config: str | None = None


@dataclass(frozen=True, slots=True)
class IpConfigProps:
    """``IP4Config``/``IP6Config``: the gateway ("" = none), ``address/prefix`` strings, DNS
    servers, domains and routes (``dest/prefix next-hop metric``)."""

    gateway: str | None = None
    addresses: tuple[str, ...] | None = None
    nameservers: tuple[str, ...] | None = None
    domains: tuple[str, ...] | None = None
    routes: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class DhcpConfigProps:
    """``DHCP4Config``/``DHCP6Config``: the lease's options, (name, value) sorted by name."""

    options: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True, slots=True)
class SettingsProps:
    """``Settings``: the host name NetworkManager reports ("" = none)."""

    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class ManagerProps:
    state: str | None = None
    connectivity: str | None = None
    devices: tuple[str, ...] | None = None  # device paths
    active_connections: tuple[str, ...] | None = None  # ActiveConnections


@dataclass(frozen=True, slots=True)
class StateChange:
    """``Device.StateChanged(u new_state, u old_state, u reason)`` as words."""

    new: str
    old: str
    reason: str


Props = (
    DeviceProps
    | ConnectionProps
    | SettingsConnectionProps
    | IpConfigProps
    | DhcpConfigProps
    | SettingsProps
    | ManagerProps
)


# -- property dicts ----------------------------------------------------------------------------


def _state_reason(value: object) -> str | Malformed:
    """``StateReason (uu)``: (state, reason); the state is checked, the reason kept."""
    if not isinstance(value, Variant) or value.signature != "(uu)":
        return Malformed(Malformation.TYPE, "StateReason is not (uu)")
    pair = value.value
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return Malformed(Malformation.TYPE, "StateReason is not a pair")
    state = device_state_name(pair[0])
    return state if isinstance(state, Malformed) else device_reason_name(pair[1])


_DEVICE_CHECKS: Mapping[str, tuple[str, Check]] = {
    "interface": ("Interface", partial(iface_value, "Interface")),
    "ip_interface": ("IpInterface", partial(iface_value, "IpInterface")),
    "state": ("State", _numbered("State", device_state_name)),
    "reason": ("StateReason", _state_reason),
    "active_connection": (
        "ActiveConnection",
        partial(object_value, "ActiveConnection", prefix=ACTIVE_PREFIX),
    ),
    "ip4_config": ("Ip4Config", partial(object_value, "Ip4Config", prefix=IP4_PREFIX)),
    "ip6_config": ("Ip6Config", partial(object_value, "Ip6Config", prefix=IP6_PREFIX)),
    "dhcp4_config": ("Dhcp4Config", partial(object_value, "Dhcp4Config", prefix=DHCP4_PREFIX)),
    "dhcp6_config": ("Dhcp6Config", partial(object_value, "Dhcp6Config", prefix=DHCP6_PREFIX)),
}
_MANAGER_CHECKS: Mapping[str, tuple[str, Check]] = {
    "state": ("State", _numbered("State", nm_state_name)),
    "connectivity": ("Connectivity", _numbered("Connectivity", connectivity_name)),
}


def decode_device_props(values: object) -> DeviceProps | Malformed:
    fields = _fields(values)
    found = fields if isinstance(fields, Malformed) else _checked(fields, _DEVICE_CHECKS)
    return found if isinstance(found, Malformed) else DeviceProps(**found)


def decode_manager_props(values: object) -> ManagerProps | Malformed:
    fields = _fields(values)
    if isinstance(fields, Malformed):
        return fields
    found = _checked(fields, _MANAGER_CHECKS)
    if isinstance(found, Malformed):
        return found
    props = ManagerProps(found.get("state"), found.get("connectivity"))
    if "ActiveConnections" in fields:
        active = object_list_value(
            "ActiveConnections", fields["ActiveConnections"], prefix=ACTIVE_PREFIX, limit=4096
        )
        if isinstance(active, Malformed):
            return active
        props = replace(props, active_connections=active)
    if "Devices" not in fields:
        return props
    devices = fields["Devices"]
    if not isinstance(devices, Variant) or devices.signature != "ao":
        return Malformed(Malformation.TYPE, "Devices is not ao")
    paths = decode_device_list("ao", [devices.value])
    return paths if isinstance(paths, Malformed) else replace(props, devices=tuple(paths))


def decode_ip_config_props(values: object, version: int) -> IpConfigProps | Malformed:
    fields = _fields(values)
    if isinstance(fields, Malformed):
        return fields
    gateway = _optional(fields, "Gateway", partial(gateway_value, version=version))
    addresses = _optional(fields, "AddressData", partial(address_data_value, version=version))
    nameservers = (
        _optional(fields, "NameserverData", nameserver_data_value)
        if version == 4
        else _optional(fields, "Nameservers", nameservers6_value)
    )
    domains = _optional(fields, "Domains", domains_value)
    routes = _optional(fields, "RouteData", partial(route_data_value, version=version))
    if isinstance(gateway, Malformed):
        return gateway
    if isinstance(addresses, Malformed):
        return addresses
    if isinstance(nameservers, Malformed):
        return nameservers
    if isinstance(domains, Malformed):
        return domains
    if isinstance(routes, Malformed):
        return routes
    return IpConfigProps(gateway, addresses, nameservers, domains, routes)


def decode_dhcp_config_props(values: object) -> DhcpConfigProps | Malformed:
    fields = _fields(values)
    if isinstance(fields, Malformed) or "Options" not in fields:
        return fields if isinstance(fields, Malformed) else DhcpConfigProps()
    options = dhcp_options_value(fields["Options"])
    return options if isinstance(options, Malformed) else DhcpConfigProps(options)


def decode_settings_props(values: object) -> SettingsProps | Malformed:
    fields = _fields(values)
    if isinstance(fields, Malformed) or "Hostname" not in fields:
        return fields if isinstance(fields, Malformed) else SettingsProps()
    hostname = hostname_value(fields["Hostname"])
    return hostname if isinstance(hostname, Malformed) else SettingsProps(hostname)


def decode_props(interface: str, values: object) -> Props | Malformed | Ignored:
    """A GetAll reply or a PropertiesChanged dict of *interface*."""
    match interface:
        case "org.freedesktop.NetworkManager.Device":
            return decode_device_props(values)
        case "org.freedesktop.NetworkManager.Connection.Active":
            return decode_connection_props(values)
        case "org.freedesktop.NetworkManager.VPN.Connection":
            return decode_vpn_props(values)
        case "org.freedesktop.NetworkManager.Settings.Connection":
            return decode_settings_connection_props(values)
        case "org.freedesktop.NetworkManager.IP4Config":
            return decode_ip_config_props(values, 4)
        case "org.freedesktop.NetworkManager.IP6Config":
            return decode_ip_config_props(values, 6)
        case (
            "org.freedesktop.NetworkManager.DHCP4Config"
            | "org.freedesktop.NetworkManager.DHCP6Config"
        ):
            return decode_dhcp_config_props(values)
        case "org.freedesktop.NetworkManager.Settings":
            return decode_settings_props(values)
        case "org.freedesktop.NetworkManager":
            return decode_manager_props(values)
    return Ignored(f"interface {interface!r:.80} is not followed")


def decode_get_all(interface: str, signature: str, body: Sequence[object]) -> Props | Malformed:
    """``Properties.GetAll(interface) -> a{sv}``."""
    if signature != "a{sv}" or len(body) != 1:
        return Malformed(Malformation.SIGNATURE, f"GetAll returned {signature!r}")
    decoded = decode_props(interface, body[0])
    return (
        Malformed(Malformation.SIGNATURE, decoded.why) if isinstance(decoded, Ignored) else decoded
    )


def decode_device_list(signature: str, body: Sequence[object]) -> list[str] | Malformed:
    """``GetDevices() -> ao``: every path a device path, no duplicates."""
    if signature != "ao" or len(body) != 1 or not isinstance(body[0], list):
        return Malformed(Malformation.SIGNATURE, f"GetDevices returned {signature!r}")
    paths = body[0]
    for path in paths:
        if not isinstance(path, str) or numbered_path(DEVICE_PREFIX, path) is None:
            return Malformed(Malformation.PATH, f"{path!r:.80} is not a device path")
    if len(set(paths)) != len(paths):
        return Malformed(Malformation.PATH, "GetDevices lists a device twice")
    return list(paths)
