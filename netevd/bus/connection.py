"""Opening the system bus: ``DBUS_SYSTEM_BUS_ADDRESS`` from the given environment when set,
else the system bus; and the bus daemon's own name and calls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"


def system_bus(env: Mapping[str, str]) -> MessageBus:
    """The system bus of *env*, not connected yet."""
    address = env.get("DBUS_SYSTEM_BUS_ADDRESS")
    return MessageBus(bus_address=address) if address else MessageBus(bus_type=BusType.SYSTEM)


async def connect(env: Mapping[str, str], timeout: float | None) -> MessageBus:
    """The system bus of *env*, connected within *timeout* (None: no deadline of its own)."""
    bus = system_bus(env)
    try:
        return await asyncio.wait_for(bus.connect(), timeout)
    except BaseException:
        with contextlib.suppress(Exception):
            bus.disconnect()
        raise


async def name_has_owner(bus: MessageBus, name: str) -> bool:
    """Whether someone owns *name* now (``org.freedesktop.DBus.NameHasOwner``)."""
    reply = await bus.call(
        Message(
            destination=DBUS_NAME,
            path=DBUS_PATH,
            interface=DBUS_NAME,
            member="NameHasOwner",
            signature="s",
            body=[name],
        )
    )
    return bool(reply and reply.message_type == MessageType.METHOD_RETURN and reply.body[0])
