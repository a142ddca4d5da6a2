"""The fake NetworkManager's active connections, VPN connections and profiles.

Members and signatures are NetworkManager 1.42's (checked against the real introspection: the
live daemon's Connection.Active and Settings.Connection in tests/integration/
test_lab_networkmanager.py, and the 1.42.4 introspection XML of VPN.Connection, Connection.Active
and Settings.Connection in tests/unit/test_fake_networkmanager_introspection.py). A VPN
connection is one object with two interfaces, as in NetworkManager: Connection.Active (``Vpn``
true) and VPN.Connection (``VpnState``, ``VpnStateChanged``).
"""

from __future__ import annotations

from typing import Annotated

from dbus_fast import PropertyAccess
from dbus_fast.annotations import DBusBool, DBusObjectPath, DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_property, dbus_signal

ACTIVE_INTERFACE = "org.freedesktop.NetworkManager.Connection.Active"
VPN_INTERFACE = "org.freedesktop.NetworkManager.VPN.Connection"
SETTINGS_CONNECTION_INTERFACE = "org.freedesktop.NetworkManager.Settings.Connection"

Paths = Annotated[list[str], DBusSignature("ao")]
TwoStates = Annotated[list[int], DBusSignature("uu")]
# NMActiveConnectionState
ACTIVATED, DEACTIVATED = 2, 4
STATE_FLAG_EXTERNAL = 0x80  # NM_ACTIVATION_STATE_FLAG_EXTERNAL


class FakeActiveConnection(ServiceInterface):
    """``Connection.Active``: a device's activation or (``vpn``) a VPN's."""

    def __init__(self, conn_id: str, uuid: str, *, vpn: bool = False) -> None:
        super().__init__(ACTIVE_INTERFACE)
        self.conn_id = conn_id
        self.uuid = uuid
        self.vpn = vpn
        self.connection = "/"  # its profile
        self.devices: list[str] = []
        self.state = ACTIVATED
        self.state_flags = 0
        self.ip4_config = "/"
        self.ip6_config = "/"

    @dbus_property(access=PropertyAccess.READ, name="Id")
    def id_prop(self) -> DBusStr:
        return self.conn_id

    @dbus_property(access=PropertyAccess.READ, name="Uuid")
    def uuid_prop(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ, name="Connection")
    def connection_prop(self) -> DBusObjectPath:
        return self.connection

    @dbus_property(access=PropertyAccess.READ, name="Devices")
    def devices_prop(self) -> Paths:
        return list(self.devices)

    @dbus_property(access=PropertyAccess.READ, name="State")
    def state_prop(self) -> DBusUInt32:
        return self.state

    @dbus_property(access=PropertyAccess.READ, name="StateFlags")
    def state_flags_prop(self) -> DBusUInt32:
        return self.state_flags

    @dbus_property(access=PropertyAccess.READ, name="Vpn")
    def vpn_prop(self) -> DBusBool:
        return self.vpn

    @dbus_property(access=PropertyAccess.READ, name="Ip4Config")
    def ip4_config_prop(self) -> DBusObjectPath:
        return self.ip4_config

    @dbus_property(access=PropertyAccess.READ, name="Ip6Config")
    def ip6_config_prop(self) -> DBusObjectPath:
        return self.ip6_config

    @dbus_signal(name="StateChanged")
    def state_changed(self, state: int, reason: int) -> TwoStates:
        return [state, reason]


class FakeVpnConnection(ServiceInterface):
    """``VPN.Connection`` on a VPN's active connection object."""

    def __init__(self) -> None:
        super().__init__(VPN_INTERFACE)
        self.vpn_state = 1  # prepare
        self.banner = ""

    @dbus_property(access=PropertyAccess.READ, name="VpnState")
    def vpn_state_prop(self) -> DBusUInt32:
        return self.vpn_state

    @dbus_property(access=PropertyAccess.READ, name="Banner")
    def banner_prop(self) -> DBusStr:
        return self.banner

    @dbus_signal(name="VpnStateChanged")
    def vpn_state_changed(self, state: int, reason: int) -> TwoStates:
        return [state, reason]


class FakeSettingsConnection(ServiceInterface):
    """``Settings.Connection``: a profile and its file ("" for one kept in memory only)."""

    def __init__(self, filename: str, flags: int = 0) -> None:
        super().__init__(SETTINGS_CONNECTION_INTERFACE)
        self.filename = filename
        self.flags = flags

    @dbus_property(access=PropertyAccess.READ, name="Unsaved")
    def unsaved_prop(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ, name="Flags")
    def flags_prop(self) -> DBusUInt32:
        return self.flags

    @dbus_property(access=PropertyAccess.READ, name="Filename")
    def filename_prop(self) -> DBusStr:
        return self.filename
