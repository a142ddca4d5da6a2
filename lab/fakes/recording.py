"""What the fake systemd services share: a record of every call and failures on demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from dbus_fast import DBusError, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface

from lab.errors import LabError
from lab.lifecycle import Service


@dataclass(frozen=True)
class Call:
    member: str
    args: tuple[Any, ...]
    error: str = ""  # the D-Bus error name it was answered with, "" when it succeeded


class Recorder:
    """Calls in arrival order; ``fail(member, error)`` answers the next calls with that error."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._failures: dict[str, tuple[str, str, int | None]] = {}

    def fail(self, member: str, error: str, message: str = "", *, times: int | None = None) -> None:
        """Answer *member* with D-Bus error *error* the next *times* times (None: until cleared)."""
        self._failures[member] = (error, message or f"{member} refused by the fake", times)

    def clear(self, member: str | None = None) -> None:
        if member is None:
            self._failures.clear()
        else:
            self._failures.pop(member, None)

    def made(self, member: str, *, ok: bool = True) -> list[tuple[Any, ...]]:
        """The arguments of the calls to *member* that succeeded (or, ok=False, that failed)."""
        return [c.args for c in self.calls if c.member == member and (not c.error) == ok]

    def record(self, member: str, *args: Any) -> None:
        """Note the call; raise the planned failure, if any (dbus-fast sends it as the reply)."""
        failure = self._failures.get(member)
        if failure is None:
            self.calls.append(Call(member, args))
            return
        error, message, times = failure
        if times is not None:
            if times <= 1:
                del self._failures[member]
            else:
                self._failures[member] = (error, message, times - 1)
        self.calls.append(Call(member, args, error))
        raise DBusError(error, message)


class FakeService(Service):
    """Owns *bus_name* on the bus at *address* and serves *objects* (path -> interface)."""

    def __init__(self, address: str, bus_name: str, objects: dict[str, ServiceInterface]) -> None:
        self.address = address
        self.bus_name = bus_name
        self.objects = objects
        self._bus: MessageBus | None = None

    async def start(self) -> Self:
        self._bus = await MessageBus(bus_address=self.address).connect()
        for path, interface in self.objects.items():
            self._bus.export(path, interface)
        reply = await self._bus.request_name(self.bus_name)
        if reply is not RequestNameReply.PRIMARY_OWNER:
            raise LabError(f"could not own {self.bus_name}: {reply.name}")
        return self

    async def stop(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None
