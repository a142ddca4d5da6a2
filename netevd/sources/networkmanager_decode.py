"""What NetworkManager says on the bus, decoded and type-checked (pure: no I/O, never raises).

Everything here is input from a peer on the system bus. A value is believed only after its
D-Bus type, range and alphabet are checked; a message that fails any check is *malformed* as a
whole (a peer that lies about one value is not believed about the others), with a reason from a
fixed set so it can be counted without unbounded labels. Numbers become words through the
tables of :mod:`netevd.sources.networkmanager_enums`: a device, global or connectivity state
outside them is rejected as such (``state``), never passed on as a number.

Properties NetworkManager has but netevd does not follow are ignored unchecked; a property it
follows and that is missing from a dict is left ``None`` (PropertiesChanged carries only what
changed; NetworkManager 1.42 sends one property per signal).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import partial

from dbus_fast import Variant

from netevd.sources.networkmanager_enums import CONNECTIVITY, DEVICE_STATES, NM_STATES, reason_name
from netevd.sources.networkmanager_paths import (
    ACTIVE_PREFIX,
    DEVICE_PREFIX,
    IP4_PREFIX,
    IP6_PREFIX,
    NM_PATH,
    OBJECT_MANAGER_PATH,
    numbered_path,
)

NM_INTERFACE = "org.freedesktop.NetworkManager"
DEVICE_INTERFACE = "org.freedesktop.NetworkManager.Device"
ACTIVE_INTERFACE = "org.freedesktop.NetworkManager.Connection.Active"
IP4_INTERFACE = "org.freedesktop.NetworkManager.IP4Config"
IP6_INTERFACE = "org.freedesktop.NetworkManager.IP6Config"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER_INTERFACE = "org.freedesktop.DBus.ObjectManager"
MAX_NAME_BYTES = 15  # IFNAMSIZ without the NUL
MAX_TEXT = 256  # a connection id; NetworkManager sets no limit, a liar gets this one
MAX_ADDRESSES = 4096
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class Malformation(StrEnum):
    """Why a message was not believed (a fixed set: usable as a metric label)."""

    SIGNATURE = "signature"  # wrong D-Bus signature for the member
    PATH = "path"  # an object path NetworkManager does not use for that kind of object
    TYPE = "type"  # a property of the wrong D-Bus type
    VALUE = "value"  # a name, id, uuid or address that is not one
    STATE = "state"  # a state number outside NetworkManager 1.42's enum


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: Malformation
    detail: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """Well-formed, but nothing netevd follows."""

    why: str


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


@dataclass(frozen=True, slots=True)
class ConnectionProps:
    """``org.freedesktop.NetworkManager.Connection.Active``: the profile's id and uuid."""

    id: str | None = None
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class IpConfigProps:
    """``IP4Config``/``IP6Config``: the gateway ("" = none) and ``address/prefix`` strings."""

    gateway: str | None = None
    addresses: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ManagerProps:
    state: str | None = None
    connectivity: str | None = None
    devices: tuple[str, ...] | None = None  # device paths


@dataclass(frozen=True, slots=True)
class StateChange:
    """``Device.StateChanged(u new_state, u old_state, u reason)`` as words."""

    new: str
    old: str
    reason: str


# -- decoded signals ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceStateChanged:
    path: str
    change: StateChange


@dataclass(frozen=True, slots=True)
class DeviceChanged:
    path: str
    props: DeviceProps


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    path: str
    props: ConnectionProps


@dataclass(frozen=True, slots=True)
class IpConfigChanged:
    path: str
    props: IpConfigProps


@dataclass(frozen=True, slots=True)
class ManagerChanged:
    props: ManagerProps


@dataclass(frozen=True, slots=True)
class DeviceAdded:
    path: str


@dataclass(frozen=True, slots=True)
class DeviceRemoved:
    path: str


@dataclass(frozen=True, slots=True)
class ObjectAdded:
    """ObjectManager.InterfacesAdded: a new object with the followed properties it has."""

    path: str
    props: DeviceProps | ConnectionProps | IpConfigProps


@dataclass(frozen=True, slots=True)
class ManagerAdded:
    """ObjectManager.InterfacesAdded of the manager object: NetworkManager is set up.

    NetworkManager owns its bus name a moment before it exports its objects, so a client
    that asks at once gets UnknownMethod; this is the signal to ask again."""

    props: ManagerProps


@dataclass(frozen=True, slots=True)
class ObjectRemoved:
    path: str


Decoded = (
    DeviceStateChanged
    | DeviceChanged
    | ConnectionChanged
    | IpConfigChanged
    | ManagerChanged
    | DeviceAdded
    | DeviceRemoved
    | ObjectAdded
    | ManagerAdded
    | ObjectRemoved
    | Ignored
    | Malformed
)
Props = DeviceProps | ConnectionProps | IpConfigProps | ManagerProps

# -- numbers -----------------------------------------------------------------------------------


def _u32(value: object) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32
    return value if ok else None  # type: ignore[return-value]


def _enum(table: Mapping[int, str], what: str, value: object) -> str | Malformed:
    number = _u32(value)
    if number is None:
        return Malformed(Malformation.TYPE, f"{what} {value!r:.40} is not a u32")
    if number not in table:
        return Malformed(Malformation.STATE, f"{what} {number} is not one NetworkManager has")
    return table[number]


def device_state_name(value: object) -> str | Malformed:
    return _enum(DEVICE_STATES, "device state", value)


def nm_state_name(value: object) -> str | Malformed:
    return _enum(NM_STATES, "NetworkManager state", value)


def connectivity_name(value: object) -> str | Malformed:
    return _enum(CONNECTIVITY, "connectivity", value)


def device_reason_name(value: object) -> str | Malformed:
    number = _u32(value)
    if number is None:
        return Malformed(Malformation.TYPE, f"state reason {value!r:.40} is not a u32")
    name = reason_name(number)
    return name if name is not None else Malformed(Malformation.VALUE, f"state reason {number}")


# -- values ------------------------------------------------------------------------------------


def interface_name_problem(name: str) -> str | None:
    """Why *name* cannot be a Linux interface name (the kernel's dev_valid_name), or None."""
    if name in (".", "..") or len(name.encode()) > MAX_NAME_BYTES:
        return f"{name[:40]!r} is not an interface name"
    if any(c in "/:" or c.isspace() or c == "\x00" for c in name):
        return f"{name[:40]!r} is not an interface name"
    return None


def _text(name: str, value: object, *, signature: str = "s") -> str | Malformed:
    if not isinstance(value, Variant) or value.signature != signature:
        got = value.signature if isinstance(value, Variant) else type(value).__name__
        return Malformed(Malformation.TYPE, f"{name} has type {got!r}, not {signature!r}")
    if not isinstance(value.value, str):
        return Malformed(Malformation.TYPE, f"{name} is not a string")
    return value.value


def _iface(name: str, value: object) -> str | Malformed:
    text = _text(name, value)
    if isinstance(text, str) and text and (problem := interface_name_problem(text)):
        return Malformed(Malformation.VALUE, f"{name}: {problem}")
    return text


def _object(name: str, value: object, *, prefix: str) -> str | Malformed:
    """An object path under *prefix*, or "" for NetworkManager's "/" (none)."""
    text = _text(name, value, signature="o")
    if isinstance(text, Malformed) or text == "/":
        return "" if text == "/" else text
    if numbered_path(prefix, text) is None:
        return Malformed(Malformation.PATH, f"{name} {text[:80]!r} is not under {prefix}")
    return text


def _connection_id(value: object) -> str | Malformed:
    text = _text("Id", value)
    if isinstance(text, str) and (len(text) > MAX_TEXT or _CONTROL_RE.search(text)):
        return Malformed(Malformation.VALUE, f"connection id {text[:40]!r} is not believable")
    return text


def _uuid(value: object) -> str | Malformed:
    text = _text("Uuid", value)
    if isinstance(text, str) and text and not UUID_RE.fullmatch(text):
        return Malformed(Malformation.VALUE, f"Uuid {text[:40]!r} is not a uuid")
    return text


def _gateway(value: object, version: int) -> str | Malformed:
    text = _text("Gateway", value)
    if isinstance(text, Malformed) or not text:
        return text
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return Malformed(Malformation.VALUE, f"Gateway {text[:60]!r} is not an address")
    if address.version != version:
        return Malformed(Malformation.VALUE, f"Gateway {text!r} is not IPv{version}")
    return text


def _address_data(value: object, version: int) -> tuple[str, ...] | Malformed:
    """``AddressData aa{sv}``: each entry's ``address`` (s) and ``prefix`` (u), checked."""
    if not isinstance(value, Variant) or value.signature != "aa{sv}":
        return Malformed(Malformation.TYPE, "AddressData is not aa{sv}")
    entries = value.value
    if not isinstance(entries, list) or len(entries) > MAX_ADDRESSES:
        return Malformed(Malformation.VALUE, "AddressData is not a list of bounded size")
    found: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            return Malformed(Malformation.TYPE, "an AddressData entry is not a dict")
        address = _text("address", entry.get("address"))
        prefix = entry.get("prefix")
        if isinstance(address, Malformed):
            return address
        if not isinstance(prefix, Variant) or prefix.signature != "u":
            return Malformed(Malformation.TYPE, "an AddressData prefix is not a u32")
        try:
            network = ipaddress.ip_interface(f"{address}/{prefix.value}")
        except ValueError:
            return Malformed(Malformation.VALUE, f"{address[:60]!r}/{prefix.value} is no address")
        if network.version != version:
            return Malformed(Malformation.VALUE, f"{address!r} is not IPv{version}")
        found.append(str(network))
    return tuple(found)


# -- property dicts ----------------------------------------------------------------------------

Check = Callable[[object], str | Malformed]


def _fields(values: object) -> Mapping[str, object] | Malformed:
    if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
        return Malformed(Malformation.SIGNATURE, "properties are not a{sv}")
    return values


def _numbered(name: str, namer: Check) -> Check:
    """A check of a ``u`` variant named through *namer*."""

    def check(value: object) -> str | Malformed:
        if not isinstance(value, Variant) or value.signature != "u":
            got = value.signature if isinstance(value, Variant) else type(value).__name__
            return Malformed(Malformation.TYPE, f"{name} has type {got!r}, not 'u'")
        return namer(value.value)

    return check


def _state_reason(value: object) -> str | Malformed:
    """``StateReason (uu)``: (state, reason); the state is checked, the reason kept."""
    if not isinstance(value, Variant) or value.signature != "(uu)":
        return Malformed(Malformation.TYPE, "StateReason is not (uu)")
    pair = value.value
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return Malformed(Malformation.TYPE, "StateReason is not a pair")
    state = device_state_name(pair[0])
    return state if isinstance(state, Malformed) else device_reason_name(pair[1])


def _checked(
    fields: Mapping[str, object], checks: Mapping[str, tuple[str, Check]]
) -> dict[str, str] | Malformed:
    """{field: checked value} for every property of *checks* present in *fields*."""
    found: dict[str, str] = {}
    for field, (name, check) in checks.items():
        if name in fields:
            value = check(fields[name])
            if isinstance(value, Malformed):
                return value
            found[field] = value
    return found


_DEVICE_CHECKS: Mapping[str, tuple[str, Check]] = {
    "interface": ("Interface", partial(_iface, "Interface")),
    "ip_interface": ("IpInterface", partial(_iface, "IpInterface")),
    "state": ("State", _numbered("State", device_state_name)),
    "reason": ("StateReason", _state_reason),
    "active_connection": (
        "ActiveConnection",
        partial(_object, "ActiveConnection", prefix=ACTIVE_PREFIX),
    ),
    "ip4_config": ("Ip4Config", partial(_object, "Ip4Config", prefix=IP4_PREFIX)),
    "ip6_config": ("Ip6Config", partial(_object, "Ip6Config", prefix=IP6_PREFIX)),
}
_CONNECTION_CHECKS: Mapping[str, tuple[str, Check]] = {
    "id": ("Id", _connection_id),
    "uuid": ("Uuid", _uuid),
}
_MANAGER_CHECKS: Mapping[str, tuple[str, Check]] = {
    "state": ("State", _numbered("State", nm_state_name)),
    "connectivity": ("Connectivity", _numbered("Connectivity", connectivity_name)),
}


def decode_device_props(values: object) -> DeviceProps | Malformed:
    fields = _fields(values)
    found = fields if isinstance(fields, Malformed) else _checked(fields, _DEVICE_CHECKS)
    return found if isinstance(found, Malformed) else DeviceProps(**found)


def decode_connection_props(values: object) -> ConnectionProps | Malformed:
    fields = _fields(values)
    found = fields if isinstance(fields, Malformed) else _checked(fields, _CONNECTION_CHECKS)
    return found if isinstance(found, Malformed) else ConnectionProps(**found)


def decode_manager_props(values: object) -> ManagerProps | Malformed:
    fields = _fields(values)
    if isinstance(fields, Malformed):
        return fields
    found = _checked(fields, _MANAGER_CHECKS)
    if isinstance(found, Malformed):
        return found
    props = ManagerProps(found.get("state"), found.get("connectivity"))
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
    gateway = _gateway(fields["Gateway"], version) if "Gateway" in fields else None
    if isinstance(gateway, Malformed):
        return gateway
    addresses = _address_data(fields["AddressData"], version) if "AddressData" in fields else None
    if isinstance(addresses, Malformed):
        return addresses
    return IpConfigProps(gateway, addresses)


def decode_props(interface: str, values: object) -> Props | Malformed | Ignored:
    """A GetAll reply or a PropertiesChanged dict of *interface*."""
    match interface:
        case "org.freedesktop.NetworkManager.Device":
            return decode_device_props(values)
        case "org.freedesktop.NetworkManager.Connection.Active":
            return decode_connection_props(values)
        case "org.freedesktop.NetworkManager.IP4Config":
            return decode_ip_config_props(values, 4)
        case "org.freedesktop.NetworkManager.IP6Config":
            return decode_ip_config_props(values, 6)
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


# -- signals -----------------------------------------------------------------------------------


def decode_state_changed(signature: str, body: Sequence[object]) -> StateChange | Malformed:
    """``Device.StateChanged(uuu)``: the signal's own new state, old state and reason."""
    if signature != "uuu" or len(body) != 3:
        return Malformed(Malformation.SIGNATURE, f"StateChanged with signature {signature!r}")
    new, old = device_state_name(body[0]), device_state_name(body[1])
    reason = device_reason_name(body[2])
    for value in (new, old, reason):
        if isinstance(value, Malformed):
            return value
    return StateChange(new, old, reason)  # type: ignore[arg-type]


def decode_signal(
    path: str, interface: str, member: str, signature: str, body: Sequence[object]
) -> Decoded:
    """Any signal from NetworkManager's owner, by interface and member."""
    match (interface, member):
        case ("org.freedesktop.DBus.Properties", "PropertiesChanged"):
            return _properties_changed(path, signature, body)
        case ("org.freedesktop.NetworkManager.Device", "StateChanged"):
            if numbered_path(DEVICE_PREFIX, path) is None:
                return Malformed(Malformation.PATH, f"StateChanged on {path[:80]!r}")
            change = decode_state_changed(signature, body)
            return change if isinstance(change, Malformed) else DeviceStateChanged(path, change)
        case ("org.freedesktop.NetworkManager", member) if path == NM_PATH:
            return _manager_signal(member, signature, body)
        case ("org.freedesktop.DBus.ObjectManager", member) if path == OBJECT_MANAGER_PATH:
            return _object_manager(member, signature, body)
    return Ignored(f"{interface}.{member} on {path}"[:160])


_KINDS: Mapping[str, str] = {
    DEVICE_INTERFACE: DEVICE_PREFIX,
    ACTIVE_INTERFACE: ACTIVE_PREFIX,
    IP4_INTERFACE: IP4_PREFIX,
    IP6_INTERFACE: IP6_PREFIX,
}


def _on_object(path: str, interface: str, values: object) -> Decoded:
    """*interface*'s properties *values* of the object at *path*, as the change they make."""
    prefix = _KINDS.get(interface)
    if prefix is not None and numbered_path(prefix, path) is None:
        return Malformed(Malformation.PATH, f"{interface} at {path[:80]!r}")
    if interface == NM_INTERFACE and path != NM_PATH:
        return Malformed(Malformation.PATH, f"manager properties at {path[:80]!r}")
    props = decode_props(interface, values)
    match props:
        case DeviceProps():
            return DeviceChanged(path, props)
        case ConnectionProps():
            return ConnectionChanged(path, props)
        case IpConfigProps():
            return IpConfigChanged(path, props)
        case ManagerProps():
            return ManagerChanged(props)
    return props


def _properties_changed(path: str, signature: str, body: Sequence[object]) -> Decoded:
    """``PropertiesChanged(s interface, a{sv} changed, as invalidated)``."""
    if signature != "sa{sv}as" or len(body) != 3 or not isinstance(body[0], str):
        return Malformed(Malformation.SIGNATURE, f"PropertiesChanged with signature {signature!r}")
    interface, changed, invalidated = str(body[0]), body[1], body[2]
    if not isinstance(invalidated, list) or not all(isinstance(n, str) for n in invalidated):
        return Malformed(Malformation.SIGNATURE, "PropertiesChanged invalidated is not as")
    return _on_object(path, interface, changed)


def _manager_signal(member: str, signature: str, body: Sequence[object]) -> Decoded:
    if member == "StateChanged":
        if signature != "u" or len(body) != 1:
            return Malformed(Malformation.SIGNATURE, f"StateChanged with signature {signature!r}")
        state = nm_state_name(body[0])
        return state if isinstance(state, Malformed) else ManagerChanged(ManagerProps(state=state))
    if member in ("DeviceAdded", "DeviceRemoved"):
        if signature != "o" or len(body) != 1:
            return Malformed(Malformation.SIGNATURE, f"{member} with signature {signature!r}")
        path = body[0]
        if not isinstance(path, str) or numbered_path(DEVICE_PREFIX, path) is None:
            return Malformed(Malformation.PATH, f"{member} of {path!r:.80}")
        return DeviceAdded(path) if member == "DeviceAdded" else DeviceRemoved(path)
    return Ignored(f"manager signal {member}")


def _object_manager(member: str, signature: str, body: Sequence[object]) -> Decoded:
    if member == "InterfacesRemoved":
        if signature != "oas" or len(body) != 2 or not isinstance(body[0], str):
            return Malformed(Malformation.SIGNATURE, f"InterfacesRemoved with {signature!r}")
        return ObjectRemoved(body[0])
    if member != "InterfacesAdded":
        return Ignored(f"object manager signal {member}")
    if signature != "oa{sa{sv}}" or len(body) != 2:
        return Malformed(Malformation.SIGNATURE, f"InterfacesAdded with {signature!r}")
    path, interfaces = body
    if not isinstance(path, str) or not isinstance(interfaces, Mapping):
        return Malformed(Malformation.SIGNATURE, "InterfacesAdded body is not (o, a{sa{sv}})")
    if NM_INTERFACE in interfaces:
        manager = _on_object(path, NM_INTERFACE, interfaces[NM_INTERFACE])
        return ManagerAdded(manager.props) if isinstance(manager, ManagerChanged) else manager
    for interface in _KINDS:
        if interface in interfaces:
            decoded = _on_object(path, interface, interfaces[interface])
            match decoded:
                case (
                    DeviceChanged(_, props)
                    | ConnectionChanged(_, props)
                    | IpConfigChanged(_, props)
                ):
                    return ObjectAdded(path, props)
            return decoded
    return Ignored(f"object {path[:80]!r} has no followed interface")
