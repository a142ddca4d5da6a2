"""PrivateBus: a throwaway dbus-daemon with a system-bus-like policy, never the host's bus.

The socket is a filesystem path (abstract sockets are per network namespace), so a bus started
here is reachable from any namespace of the lab. The policy is the system bus's shape: nobody may
own names or call methods except where ``/usr/share/dbus-1/system.d`` grants it, plus root, which
the tests and fake services run as.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Self

from dbus_fast import Message
from dbus_fast.aio import MessageBus

from lab.errors import LabError
from lab.lifecycle import Service
from lab.process import ManagedProcess

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <policy user="root">
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
</busconfig>
"""


DBUS_ARGV = ("dbus-daemon", "--nofork", "--nopidfile", "--print-address=1")


def bus_address(socket: Path) -> str:
    return f"unix:path={socket}"


def bus_env(socket: Path) -> dict[str, str]:
    """What a client needs in its environment to use the bus at *socket* as its system bus."""
    return {"DBUS_SYSTEM_BUS_ADDRESS": bus_address(socket)}


def bus_argv(config: Path) -> list[str]:
    """dbus-daemon's command line for the configuration at *config* (it prints its address on
    stdout once it listens: wait for ``^unix:``)."""
    return [*DBUS_ARGV[:1], f"--config-file={config}", *DBUS_ARGV[1:]]


async def ask_bus_daemon(bus: MessageBus, member: str, *args: str) -> list[Any]:
    """The body of the bus daemon's (``org.freedesktop.DBus``) answer to *member* with string
    arguments *args*."""
    reply = await bus.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member=member,
            signature="s" * len(args),
            body=list(args),
        )
    )
    if reply is None:
        raise LabError(f"{member}: no reply from the bus daemon")
    return list(reply.body)


async def unique_names(address: str, *skip: str) -> list[str]:
    """The unique names (``:1.N``) connected to the bus at *address*, but *skip* and the
    asker's own connection."""
    bus = await MessageBus(bus_address=address).connect()
    try:
        names: list[str] = (await ask_bus_daemon(bus, "ListNames"))[0]
        return [n for n in names if n.startswith(":") and n not in (*skip, bus.unique_name)]
    finally:
        bus.disconnect()


class PrivateBus(Service):
    """``async with PrivateBus() as bus: bus.address`` (a ``unix:path=...`` address)."""

    def __init__(self, workdir: str | Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="netevd-bus-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.socket = self.workdir / "bus.sock"
        self.config = self.workdir / "bus.conf"
        self.process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return bus_address(self.socket)

    @property
    def env(self) -> dict[str, str]:
        """What a client needs in its environment to use this bus as its system bus."""
        return bus_env(self.socket)

    async def names(self, *skip: str) -> list[str]:
        """The unique names connected to this bus, but *skip* and the asker's own."""
        return await unique_names(self.address, *skip)

    async def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(BUS_CONFIG.format(socket=self.socket))
        self.process = ManagedProcess(bus_argv(self.config), name="dbus-daemon")
        await self.process.start()
        try:
            await self.process.wait_for_log(r"^unix:", timeout=10, stream="stdout")
        except LabError:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        if self.process is not None:
            await self.process.stop()
            self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
