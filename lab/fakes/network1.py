"""A fake ``org.freedesktop.network1`` for what the real networkd cannot be made to do on demand.

It serves the Manager object and one Link object per link with the same names and signatures as
networkd v252 (the lab test compares its introspection with the real service's), and it can lie:
:meth:`FakeNetwork1.send_raw` emits any signal with any signature and body, from the name's
owner or (``own_name=False``) from a peer that merely claims to be networkd.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Self

from dbus_fast import DBusError, Message, MessageType, PropertyAccess, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusInt32, DBusSignature, DBusStr, DBusUInt64
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from lab.errors import LabError
from lab.lifecycle import Service

BUS_NAME = "org.freedesktop.network1"
MANAGER_PATH = "/org/freedesktop/network1"
LINK_PREFIX = "/org/freedesktop/network1/link/"
MANAGER_INTERFACE = "org.freedesktop.network1.Manager"
LINK_INTERFACE = "org.freedesktop.network1.Link"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
STATE_NAMES = (
    "OperationalState",
    "CarrierState",
    "AddressState",
    "IPv4AddressState",
    "IPv6AddressState",
    "OnlineState",
)
LINK_STATE_NAMES = (*STATE_NAMES, "AdministrativeState")

LinkList = Annotated[list[tuple[int, str, str]], DBusSignature("a(iso)")]
IndexAndPath = Annotated[list[Any], DBusSignature("io")]
NameAndPath = Annotated[list[Any], DBusSignature("so")]
BitRates = Annotated[tuple[int, int], DBusSignature("(tt)")]


def link_path(index: int) -> str:
    """networkd's path for *index* (sd-bus escaping: only the leading digit is escaped)."""
    text = str(index)
    return f"{LINK_PREFIX}_3{text[0]}{text[1:]}"


def _state(name: str) -> Any:
    """A read-only ``s`` property *name* served from the object's ``states`` dict."""

    def getter(self: _Stateful) -> DBusStr:
        return self.states.get(name, "")

    getter.__name__ = name  # dbus-fast finds the getter on the object by this name
    return dbus_property(access=PropertyAccess.READ, name=name)(getter)


class _Stateful(ServiceInterface):
    def __init__(self, interface: str, states: dict[str, str]) -> None:
        super().__init__(interface)
        self.states = states

    def update(self, **states: str) -> None:
        """Change states and emit PropertiesChanged with exactly those, as networkd does."""
        self.states.update(states)
        self.emit_properties_changed(dict(states))


class FakeLink(_Stateful):
    OperationalState = _state("OperationalState")
    CarrierState = _state("CarrierState")
    AddressState = _state("AddressState")
    IPv4AddressState = _state("IPv4AddressState")
    IPv6AddressState = _state("IPv6AddressState")
    OnlineState = _state("OnlineState")
    AdministrativeState = _state("AdministrativeState")

    def __init__(self, index: int, name: str, states: dict[str, str]) -> None:
        super().__init__(LINK_INTERFACE, states)
        self.index = index
        self.link_name = name
        self.describe_override: str | None = None

    @dbus_property(access=PropertyAccess.READ, name="BitRates")
    def bit_rates(self) -> BitRates:
        return (2**64 - 1, 2**64 - 1)  # what networkd reports for a veth

    @dbus_method(name="Describe")
    def describe(self) -> DBusStr:
        return self.describe_text()

    def describe_text(self) -> str:
        if self.describe_override is not None:
            return self.describe_override
        doc = {"Index": self.index, "Name": self.link_name, **self.states}
        return json.dumps(doc, separators=(",", ":"))


class FakeManager(_Stateful):
    OperationalState = _state("OperationalState")
    CarrierState = _state("CarrierState")
    AddressState = _state("AddressState")
    IPv4AddressState = _state("IPv4AddressState")
    IPv6AddressState = _state("IPv6AddressState")
    OnlineState = _state("OnlineState")

    def __init__(self, links: Callable[[], dict[int, FakeLink]]) -> None:
        super().__init__(MANAGER_INTERFACE, {})
        self._links = links

    @dbus_property(access=PropertyAccess.READ, name="NamespaceId")
    def namespace_id(self) -> DBusUInt64:
        return 0

    @dbus_method(name="ListLinks")
    def list_links(self) -> LinkList:
        return [(i, link.link_name, link_path(i)) for i, link in sorted(self._links().items())]

    @dbus_method(name="GetLinkByName")
    def get_link_by_name(self, name: DBusStr) -> IndexAndPath:
        for index, link in self._links().items():
            if link.link_name == name:
                return [index, link_path(index)]
        raise DBusError("org.freedesktop.network1.LinkNotFound", f"no link {name}")

    @dbus_method(name="GetLinkByIndex")
    def get_link_by_index(self, ifindex: DBusInt32) -> NameAndPath:
        return [self._link(ifindex).link_name, link_path(ifindex)]

    @dbus_method(name="DescribeLink")
    def describe_link(self, ifindex: DBusInt32) -> DBusStr:
        return self._link(ifindex).describe_text()

    @dbus_method(name="Describe")
    def describe(self) -> DBusStr:
        links = [json.loads(link.describe_text()) for _, link in sorted(self._links().items())]
        return json.dumps({"Interfaces": links}, separators=(",", ":"))

    def _link(self, index: int) -> FakeLink:
        link = self._links().get(index)
        if link is None:
            raise DBusError("org.freedesktop.network1.LinkNotFound", f"no link {index}")
        return link


class FakeNetwork1(Service):
    """``async with FakeNetwork1(address) as fake:`` owns org.freedesktop.network1 on a bus."""

    def __init__(self, address: str, *, own_name: bool = True) -> None:
        self.address = address
        self.own_name = own_name
        self.links: dict[int, FakeLink] = {}
        self.manager = FakeManager(lambda: self.links)
        self._bus: MessageBus | None = None

    @property
    def bus(self) -> MessageBus:
        if self._bus is None:
            raise LabError("the fake network1 service is not started")
        return self._bus

    @property
    def unique_name(self) -> str:
        return str(self.bus.unique_name)

    async def start(self) -> Self:
        self._bus = await MessageBus(bus_address=self.address).connect()
        self.bus.export(MANAGER_PATH, self.manager)
        for index, link in self.links.items():
            self.bus.export(link_path(index), link)
        if self.own_name:
            reply = await self.bus.request_name(BUS_NAME)
            if reply is not RequestNameReply.PRIMARY_OWNER:
                raise LabError(f"could not own {BUS_NAME}: {reply.name}")
        return self

    async def stop(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None

    def add_link(self, index: int, name: str, **states: str) -> FakeLink:
        link = FakeLink(index, name, dict(states))
        self.links[index] = link
        if self._bus is not None:
            self._bus.export(link_path(index), link)
        return link

    def set_link(self, index: int, **states: str) -> None:
        self.links[index].update(**states)

    def set_manager(self, **states: str) -> None:
        self.manager.update(**states)

    async def send_raw(
        self,
        path: str,
        signature: str,
        body: Sequence[Any],
        *,
        interface: str = PROPERTIES_INTERFACE,
        member: str = "PropertiesChanged",
        destination: str | None = None,
    ) -> None:
        """Any signal at all: the wrong signature, absurd values, a path networkd never uses."""
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
