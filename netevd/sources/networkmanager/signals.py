"""NetworkManager's signals, decoded (pure: no I/O, never raises).

:func:`decode_signal` takes any signal from NetworkManager's owner and says what it means:
a device's own state change (``StateChanged(uuu)``, the signal's values), a VPN connection's
(``VpnStateChanged(uu)``), a property change of a followed object, a device added or removed,
an object announced or withdrawn by the object manager, the manager's global state; or
:class:`Ignored` / :class:`Malformed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from netevd.bus.values import Ignored, Malformation, Malformed
from netevd.sources.networkmanager.decode import (
    ACTIVE_INTERFACE,
    DEVICE_INTERFACE,
    DHCP4_INTERFACE,
    DHCP6_INTERFACE,
    IP4_INTERFACE,
    IP6_INTERFACE,
    NM_INTERFACE,
    SETTINGS_CONNECTION_INTERFACE,
    SETTINGS_INTERFACE,
    VPN_INTERFACE,
    ConnectionProps,
    DeviceProps,
    DhcpConfigProps,
    IpConfigProps,
    ManagerProps,
    SettingsConnectionProps,
    SettingsProps,
    StateChange,
    decode_props,
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
    SETTINGS_CONNECTION_PREFIX,
    SETTINGS_PATH,
    numbered_path,
)
from netevd.sources.networkmanager.values import (
    device_reason_name,
    device_state_name,
    nm_state_name,
    vpn_reason_name,
    vpn_state_name,
)

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
class VpnChange:
    """``VPN.Connection.VpnStateChanged(u state, u reason)`` as words."""

    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class VpnStateChanged:
    path: str  # the VPN's active connection
    change: VpnChange


@dataclass(frozen=True, slots=True)
class SettingsConnectionChanged:
    path: str  # a profile, .../Settings/N
    props: SettingsConnectionProps


@dataclass(frozen=True, slots=True)
class DhcpConfigChanged:
    path: str
    props: DhcpConfigProps


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    props: SettingsProps


@dataclass(frozen=True, slots=True)
class NmManagerChanged:
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
    props: DeviceProps | ConnectionProps | SettingsConnectionProps | IpConfigProps | DhcpConfigProps


@dataclass(frozen=True, slots=True)
class ManagerAdded:
    """ObjectManager.InterfacesAdded of the manager object: NetworkManager is set up.

    NetworkManager owns its bus name a moment before it exports its objects, so a client
    that asks at once gets UnknownMethod; this is the signal to ask again."""

    props: ManagerProps


@dataclass(frozen=True, slots=True)
class ObjectRemoved:
    path: str


DecodedSignal = (
    DeviceStateChanged
    | VpnStateChanged
    | DeviceChanged
    | ConnectionChanged
    | SettingsConnectionChanged
    | IpConfigChanged
    | DhcpConfigChanged
    | SettingsChanged
    | NmManagerChanged
    | DeviceAdded
    | DeviceRemoved
    | ObjectAdded
    | ManagerAdded
    | ObjectRemoved
    | Ignored
    | Malformed
)


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
) -> DecodedSignal:
    """Any signal from NetworkManager's owner, by interface and member."""
    match (interface, member):
        case ("org.freedesktop.DBus.Properties", "PropertiesChanged"):
            return _properties_changed(path, signature, body)
        case ("org.freedesktop.NetworkManager.Device", "StateChanged"):
            if numbered_path(DEVICE_PREFIX, path) is None:
                return Malformed(Malformation.PATH, f"StateChanged on {path[:80]!r}")
            change = decode_state_changed(signature, body)
            return change if isinstance(change, Malformed) else DeviceStateChanged(path, change)
        case ("org.freedesktop.NetworkManager.VPN.Connection", "VpnStateChanged"):
            return _vpn_state_changed(path, signature, body)
        case ("org.freedesktop.NetworkManager", member) if path == NM_PATH:
            return _manager_signal(member, signature, body)
        case ("org.freedesktop.DBus.ObjectManager", member) if path == OBJECT_MANAGER_PATH:
            return _object_manager(member, signature, body)
    return Ignored(f"{interface}.{member} on {path}"[:160])


_KINDS: Mapping[str, str] = {
    DEVICE_INTERFACE: DEVICE_PREFIX,
    ACTIVE_INTERFACE: ACTIVE_PREFIX,
    VPN_INTERFACE: ACTIVE_PREFIX,
    SETTINGS_CONNECTION_INTERFACE: SETTINGS_CONNECTION_PREFIX,
    IP4_INTERFACE: IP4_PREFIX,
    IP6_INTERFACE: IP6_PREFIX,
    DHCP4_INTERFACE: DHCP4_PREFIX,
    DHCP6_INTERFACE: DHCP6_PREFIX,
}


def _on_object(path: str, interface: str, values: object) -> DecodedSignal:
    """*interface*'s properties *values* of the object at *path*, as the change they make."""
    prefix = _KINDS.get(interface)
    if prefix is not None and numbered_path(prefix, path) is None:
        return Malformed(Malformation.PATH, f"{interface} at {path[:80]!r}")
    if interface == NM_INTERFACE and path != NM_PATH:
        return Malformed(Malformation.PATH, f"manager properties at {path[:80]!r}")
    if interface == SETTINGS_INTERFACE and path != SETTINGS_PATH:
        return Malformed(Malformation.PATH, f"settings properties at {path[:80]!r}")
    props = decode_props(interface, values)
    match props:
        case DeviceProps():
            return DeviceChanged(path, props)
        case ConnectionProps():
            return ConnectionChanged(path, props)
        case SettingsConnectionProps():
            return SettingsConnectionChanged(path, props)
        case IpConfigProps():
            return IpConfigChanged(path, props)
        case DhcpConfigProps():
            return DhcpConfigChanged(path, props)
        case SettingsProps():
            return SettingsChanged(props)
        case ManagerProps():
            return NmManagerChanged(props)
    return props


def _properties_changed(path: str, signature: str, body: Sequence[object]) -> DecodedSignal:
    """``PropertiesChanged(s interface, a{sv} changed, as invalidated)``."""
    if signature != "sa{sv}as" or len(body) != 3 or not isinstance(body[0], str):
        return Malformed(Malformation.SIGNATURE, f"PropertiesChanged with signature {signature!r}")
    interface, changed, invalidated = str(body[0]), body[1], body[2]
    if not isinstance(invalidated, list) or not all(isinstance(n, str) for n in invalidated):
        return Malformed(Malformation.SIGNATURE, "PropertiesChanged invalidated is not as")
    return _on_object(path, interface, changed)


def _vpn_state_changed(path: str, signature: str, body: Sequence[object]) -> DecodedSignal:
    """``VPN.Connection.VpnStateChanged(uu)``: the signal's own state and reason."""
    if numbered_path(ACTIVE_PREFIX, path) is None:
        return Malformed(Malformation.PATH, f"VpnStateChanged on {path[:80]!r}")
    if signature != "uu" or len(body) != 2:
        return Malformed(Malformation.SIGNATURE, f"VpnStateChanged with {signature!r}")
    state, reason = vpn_state_name(body[0]), vpn_reason_name(body[1])
    if isinstance(state, Malformed):
        return state
    if isinstance(reason, Malformed):
        return reason
    return VpnStateChanged(path, VpnChange(state, reason))


def _manager_signal(member: str, signature: str, body: Sequence[object]) -> DecodedSignal:
    if member == "StateChanged":
        if signature != "u" or len(body) != 1:
            return Malformed(Malformation.SIGNATURE, f"StateChanged with signature {signature!r}")
        state = nm_state_name(body[0])
        return (
            state if isinstance(state, Malformed) else NmManagerChanged(ManagerProps(state=state))
        )
    if member in ("DeviceAdded", "DeviceRemoved"):
        if signature != "o" or len(body) != 1:
            return Malformed(Malformation.SIGNATURE, f"{member} with signature {signature!r}")
        path = body[0]
        if not isinstance(path, str) or numbered_path(DEVICE_PREFIX, path) is None:
            return Malformed(Malformation.PATH, f"{member} of {path!r:.80}")
        return DeviceAdded(path) if member == "DeviceAdded" else DeviceRemoved(path)
    return Ignored(f"manager signal {member}")


def _object_manager(member: str, signature: str, body: Sequence[object]) -> DecodedSignal:
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
        return ManagerAdded(manager.props) if isinstance(manager, NmManagerChanged) else manager
    if ACTIVE_INTERFACE in interfaces:
        return _active_added(path, interfaces)
    for interface in _KINDS:
        if interface in interfaces:
            decoded = _on_object(path, interface, interfaces[interface])
            match decoded:
                case (
                    DeviceChanged(_, props)
                    | ConnectionChanged(_, props)
                    | SettingsConnectionChanged(_, props)
                    | IpConfigChanged(_, props)
                    | DhcpConfigChanged(_, props)
                ):
                    return ObjectAdded(path, props)
            return decoded
    return Ignored(f"object {path[:80]!r} has no followed interface")


def _active_added(path: str, interfaces: Mapping[object, object]) -> DecodedSignal:
    """An active connection announced with its interfaces: Connection.Active, and for a VPN
    VPN.Connection too (its VpnState), as one object."""
    active = _on_object(path, ACTIVE_INTERFACE, interfaces[ACTIVE_INTERFACE])
    if not isinstance(active, ConnectionChanged) or VPN_INTERFACE not in interfaces:
        return ObjectAdded(path, active.props) if isinstance(active, ConnectionChanged) else active
    vpn = _on_object(path, VPN_INTERFACE, interfaces[VPN_INTERFACE])
    if not isinstance(vpn, ConnectionChanged):
        return vpn
    return ObjectAdded(path, replace(active.props, vpn_state=vpn.props.vpn_state))
