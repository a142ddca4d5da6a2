"""A fake ``org.freedesktop.NetworkManager`` for what the real one cannot be made to do on demand.

It serves the Manager object, Device, Connection.Active, VPN.Connection, Settings.Connection
(profiles) and IP4Config/IP6Config objects with the members and signatures NetworkManager 1.42
has for what netevd reads (the lab test compares its introspection with the real service's; the
VPN's with NetworkManager 1.42.4's introspection XML). A VPN connection goes through its states
as NetworkManager's does (:meth:`FakeNetworkManager.add_vpn`, :meth:`set_vpn_state`,
:meth:`vpn_down`), which the real one cannot be made to do here (no VPN plugin runs). Changes go
out as NetworkManager sends them: one PropertiesChanged per property, then ``StateChanged``. It
does *not* announce objects through ``ObjectManager.InterfacesAdded`` on ``/org/freedesktop`` as
NetworkManager does, so a client of the fake must fetch what it has not been told about (a new
active connection shows up in the Manager's ``ActiveConnections``).

It can lie: :meth:`FakeNetworkManager.send_raw` emits any signal with any signature and body,
from the name's owner or (``own_name=False``) from a peer that merely claims to be
NetworkManager; :meth:`FakeNetworkManager.set_state` takes any number, known to NetworkManager
or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Self

from dbus_fast import Message, MessageType, PropertyAccess, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from lab.errors import LabError
from lab.fakes.networkmanager_objects import (
    DEACTIVATED,
    STATE_FLAG_EXTERNAL,
    FakeActiveConnection,
    FakeSettingsConnection,
    FakeVpnConnection,
)
from lab.lifecycle import Service

BUS_NAME = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
NM_INTERFACE = "org.freedesktop.NetworkManager"
DEVICE_INTERFACE = "org.freedesktop.NetworkManager.Device"
ACTIVE_INTERFACE = "org.freedesktop.NetworkManager.Connection.Active"
IP4_INTERFACE = "org.freedesktop.NetworkManager.IP4Config"
IP6_INTERFACE = "org.freedesktop.NetworkManager.IP6Config"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"

Paths = Annotated[list[str], DBusSignature("ao")]
StateReason = Annotated[list[int], DBusSignature("(uu)")]
AddressData = Annotated[list[dict[str, Variant]], DBusSignature("aa{sv}")]
ThreeStates = Annotated[list[int], DBusSignature("uuu")]


def device_path(number: int) -> str:
    return f"{NM_PATH}/Devices/{number}"


class FakeManager(ServiceInterface):
    def __init__(self) -> None:
        super().__init__(NM_INTERFACE)
        self.devices: list[str] = []
        self.active_connections: list[str] = []
        self.state = 70  # connected-global
        self.connectivity = 4  # full

    @dbus_method(name="GetDevices")
    def get_devices(self) -> Paths:
        return list(self.devices)

    @dbus_property(access=PropertyAccess.READ, name="Devices")
    def devices_prop(self) -> Paths:
        return list(self.devices)

    @dbus_property(access=PropertyAccess.READ, name="ActiveConnections")
    def active_connections_prop(self) -> Paths:
        return list(self.active_connections)

    @dbus_property(access=PropertyAccess.READ, name="State")
    def state_prop(self) -> DBusUInt32:
        return self.state

    @dbus_property(access=PropertyAccess.READ, name="Connectivity")
    def connectivity_prop(self) -> DBusUInt32:
        return self.connectivity

    @dbus_signal(name="StateChanged")
    def state_changed(self, state: int) -> DBusUInt32:
        return state

    @dbus_signal(name="DeviceAdded")
    def device_added(self, path: str) -> DBusObjectPath:
        return path

    @dbus_signal(name="DeviceRemoved")
    def device_removed(self, path: str) -> DBusObjectPath:
        return path


class FakeDevice(ServiceInterface):
    def __init__(self, interface: str, state: int) -> None:
        super().__init__(DEVICE_INTERFACE)
        self.interface = interface
        self.ip_interface = interface
        self.state = state
        self.reason = 0
        self.active_connection = "/"
        self.ip4_config = "/"
        self.ip6_config = "/"

    @dbus_property(access=PropertyAccess.READ, name="Interface")
    def interface_prop(self) -> DBusStr:
        return self.interface

    @dbus_property(access=PropertyAccess.READ, name="IpInterface")
    def ip_interface_prop(self) -> DBusStr:
        return self.ip_interface

    @dbus_property(access=PropertyAccess.READ, name="State")
    def state_prop(self) -> DBusUInt32:
        return self.state

    @dbus_property(access=PropertyAccess.READ, name="StateReason")
    def state_reason_prop(self) -> StateReason:
        return [self.state, self.reason]

    @dbus_property(access=PropertyAccess.READ, name="ActiveConnection")
    def active_connection_prop(self) -> DBusObjectPath:
        return self.active_connection

    @dbus_property(access=PropertyAccess.READ, name="Ip4Config")
    def ip4_config_prop(self) -> DBusObjectPath:
        return self.ip4_config

    @dbus_property(access=PropertyAccess.READ, name="Ip6Config")
    def ip6_config_prop(self) -> DBusObjectPath:
        return self.ip6_config

    @dbus_signal(name="StateChanged")
    def state_changed(self, new: int, old: int, reason: int) -> ThreeStates:
        return [new, old, reason]


class FakeIpConfig(ServiceInterface):
    def __init__(self, interface: str, gateway: str, addresses: Sequence[tuple[str, int]]) -> None:
        super().__init__(interface)
        self.gateway = gateway
        self.addresses = list(addresses)

    @dbus_property(access=PropertyAccess.READ, name="Gateway")
    def gateway_prop(self) -> DBusStr:
        return self.gateway

    @dbus_property(access=PropertyAccess.READ, name="AddressData")
    def address_data_prop(self) -> AddressData:
        return [
            {"address": Variant("s", address), "prefix": Variant("u", prefix)}
            for address, prefix in self.addresses
        ]


class FakeNetworkManager(Service):
    """``async with FakeNetworkManager(address) as fake:`` owns the name on a bus."""

    def __init__(self, address: str, *, own_name: bool = True) -> None:
        self.address = address
        self.own_name = own_name
        self.manager = FakeManager()
        self.devices: dict[int, FakeDevice] = {}
        self._objects: list[tuple[str, ServiceInterface]] = [(NM_PATH, self.manager)]
        self._counter = 0
        self._bus: MessageBus | None = None

    @property
    def bus(self) -> MessageBus:
        if self._bus is None:
            raise LabError("the fake NetworkManager is not started")
        return self._bus

    @property
    def unique_name(self) -> str:
        return str(self.bus.unique_name)

    async def start(self) -> Self:
        self._bus = await MessageBus(bus_address=self.address).connect()
        for path, interface in self._objects:
            self._bus.export(path, interface)
        if self.own_name:
            reply = await self.bus.request_name(BUS_NAME)
            if reply is not RequestNameReply.PRIMARY_OWNER:
                raise LabError(f"could not own {BUS_NAME}: {reply.name}")
        return self

    async def stop(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None

    # -- objects --------------------------------------------------------------------------------

    def _export(self, path: str, interface: ServiceInterface) -> None:
        self._objects.append((path, interface))
        if self._bus is not None:
            self._bus.export(path, interface)

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def add_device(
        self, number: int, interface: str, *, state: int = 30, announce: bool = False
    ) -> FakeDevice:
        """Device *number* (its path's number) named *interface*; DeviceAdded if *announce*."""
        device = FakeDevice(interface, state)
        self.devices[number] = device
        path = device_path(number)
        self._export(path, device)
        ip4 = f"{NM_PATH}/IP4Config/{self._next()}"
        ip6 = f"{NM_PATH}/IP6Config/{self._next()}"
        self._export(ip4, FakeIpConfig(IP4_INTERFACE, "", ()))
        self._export(ip6, FakeIpConfig(IP6_INTERFACE, "", ()))
        device.ip4_config, device.ip6_config = ip4, ip6
        self.manager.devices.append(path)
        if announce:
            self.manager.device_added(path)
        return device

    def ip_config(self, path: str) -> FakeIpConfig:
        for object_path, interface in self._objects:
            if object_path == path and isinstance(interface, FakeIpConfig):
                return interface
        raise LabError(f"no IP configuration at {path}")

    def add_profile(self, filename: str) -> str:
        """A settings connection (``.../Settings/N``) whose file is *filename*."""
        path = f"{NM_PATH}/Settings/{self._next()}"
        self._export(path, FakeSettingsConnection(filename))
        return path

    def activate(
        self,
        number: int,
        conn_id: str,
        uuid: str,
        *,
        gateway: str,
        filename: str = "",
        external: bool = False,
    ) -> str:
        """Give device *number* an active connection (of a profile whose file is *filename*;
        *external*: an external activation) and a gateway, as NM does before 100."""
        device = self.devices[number]
        active = FakeActiveConnection(conn_id, uuid)
        active.connection = self.add_profile(filename)
        active.devices = [device_path(number)]
        active.state_flags = STATE_FLAG_EXTERNAL if external else 0
        path = self._add_active(active)
        device.active_connection = path
        device.emit_properties_changed({"ActiveConnection": path})
        config = self.ip_config(device.ip4_config)
        config.gateway = gateway
        config.emit_properties_changed({"Gateway": gateway})
        return path

    def _add_active(self, active: FakeActiveConnection, *more: ServiceInterface) -> str:
        path = f"{NM_PATH}/ActiveConnection/{self._next()}"
        for interface in (active, *more):
            self._export(path, interface)
        self.manager.active_connections.append(path)
        self.manager.emit_properties_changed(
            {"ActiveConnections": list(self.manager.active_connections)}
        )
        return path

    # -- VPN connections ------------------------------------------------------------------------

    def add_vpn(
        self, parent: int, conn_id: str, uuid: str, *, tunnel: int | None, filename: str = ""
    ) -> str:
        """A VPN connection on device *parent* (state prepare): its IP configuration is the
        *tunnel* device's (its own interface), or without one its parent's, as NM shares one
        IP configuration object per interface. Announced through ActiveConnections."""
        active = FakeActiveConnection(conn_id, uuid, vpn=True)
        active.connection = self.add_profile(filename)
        active.devices = [device_path(parent)]
        active.state = 1  # activating
        shared = self.devices[tunnel if tunnel is not None else parent]
        active.ip4_config, active.ip6_config = shared.ip4_config, shared.ip6_config
        return self._add_active(active, FakeVpnConnection())

    def active(self, path: str) -> FakeActiveConnection:
        """The active connection at *path*."""
        return next(
            i for p, i in self._objects if p == path and isinstance(i, FakeActiveConnection)
        )

    def vpn(self, path: str) -> tuple[FakeActiveConnection, FakeVpnConnection]:
        """The VPN connection at *path*: its two interfaces."""
        found = [i for p, i in self._objects if p == path and isinstance(i, FakeVpnConnection)]
        return self.active(path), found[0]

    def set_vpn_state(self, path: str, state: int, reason: int = 1) -> None:
        """As _set_vpn_state (nm-vpn-connection.c): VpnStateChanged, then the property."""
        _, vpn = self.vpn(path)
        vpn.vpn_state = state
        vpn.vpn_state_changed(state, reason)
        vpn.emit_properties_changed({"VpnState": state})

    def vpn_down(self, path: str, state: int = 7, reason: int = 2) -> None:
        """Deactivated (NM: Devices and the IP configuration cleared), then the new VpnState
        (7 disconnected, 6 failed), then gone from ActiveConnections."""
        active, _ = self.vpn(path)
        active.state, active.devices, active.ip4_config, active.ip6_config = (
            DEACTIVATED,
            [],
            "/",
            "/",
        )
        active.emit_properties_changed(
            {"State": DEACTIVATED, "Devices": [], "Ip4Config": "/", "Ip6Config": "/"}
        )
        self.set_vpn_state(path, state, reason)
        self.manager.active_connections.remove(path)
        self.manager.emit_properties_changed(
            {"ActiveConnections": list(self.manager.active_connections)}
        )

    def set_state(self, number: int, new: int, reason: int = 0) -> None:
        """PropertiesChanged(State), PropertiesChanged(StateReason), StateChanged: NM's order."""
        device = self.devices[number]
        old, device.state, device.reason = device.state, new, reason
        device.emit_properties_changed({"State": new})
        device.emit_properties_changed({"StateReason": [new, reason]})
        device.state_changed(new, old, reason)

    def set_manager_state(self, state: int) -> None:
        self.manager.state = state
        self.manager.emit_properties_changed({"State": state})
        self.manager.state_changed(state)

    async def send_raw(
        self,
        path: str,
        interface: str,
        member: str,
        signature: str,
        body: Sequence[Any],
        *,
        destination: str | None = None,
    ) -> None:
        """Any signal at all: the wrong signature, absurd values, a path NM never uses."""
        message = Message(
            message_type=MessageType.SIGNAL,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
            destination=destination,
        )
        await self.bus.send(message)
