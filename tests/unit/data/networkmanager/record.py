"""Record what the real NetworkManager says on its bus, as test data for the unit tests.

Run as root from the repository root: ``.venv/bin/python tests/unit/data/networkmanager/record.py``.
It builds the lab's NetworkManager DHCP pair (dnsmasq in ``server``), watches the client's bus
from before NetworkManager starts and walks eth0 through: activation via DHCP, ``nmcli connection
down``, ``nmcli connection up``, NetworkManager SIGKILLed and started again, and the carrier lost
(server side down, NetworkManager waits its 6 s) and back. It writes ``signals.jsonl`` (one
message a line in arrival order, each phase opened by a ``{"phase": NAME}`` line) and
``replies.json`` (GetDevices and the GetAll answers of the objects the source reads) next to this
file. D-Bus variants are stored as ``{"variant": SIGNATURE, "value": VALUE}``, byte arrays as
``{"bytes": HEX}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from lab import DnsmasqServer, Lab, wait_until
from lab.daemons.networkmanager import NetworkManagerNode, networkmanager_dhcp

HERE = Path(__file__).parent
NM = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
PROPS = "org.freedesktop.DBus.Properties"
UUID = "5c0ffee0-0000-4000-8000-00000000beef"
DEVICE = NM_PATH + "/Devices/2"


def encode(value: Any) -> Any:
    if isinstance(value, Variant):
        return {"variant": value.signature, "value": encode(value.value)}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def record(message: Message) -> dict[str, Any]:
    return {
        "sender": message.sender,
        "serial": message.serial,
        "path": message.path,
        "interface": message.interface,
        "member": message.member,
        "signature": message.signature,
        "body": encode(message.body),
    }


class Recorder:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.phase_start = 0

    def on_message(self, message: Message) -> None:
        if message.message_type is MessageType.SIGNAL:
            self.lines.append(record(message))

    def phase(self, name: str) -> None:
        self.lines.append({"phase": name})
        self.phase_start = len(self.lines)

    async def until(self, what: str, test: Callable[[dict[str, Any]], bool]) -> None:
        def seen() -> bool:
            return any(test(line) for line in self.lines[self.phase_start :])

        await wait_until(seen, 20, message=what)


def state_changed(new: int, old: int) -> Callable[[dict[str, Any]], bool]:
    def test(line: dict[str, Any]) -> bool:
        return line.get("member") == "StateChanged" and line.get("body", [])[:2] == [new, old]

    return test


def manager_state(state: int) -> Callable[[dict[str, Any]], bool]:
    def test(line: dict[str, Any]) -> bool:
        return (
            line.get("path") == NM_PATH
            and line.get("member") == "StateChanged"
            and (line.get("body") == [state])
        )

    return test


def connection_removed(line: dict[str, Any]) -> bool:
    return line.get("member") == "InterfacesRemoved" and "ActiveConnection" in line["body"][0]


def owner_gone(line: dict[str, Any]) -> bool:
    return line.get("member") == "NameOwnerChanged" and line["body"][2] == ""


async def call(bus: MessageBus, path: str, interface: str, member: str, *args: str) -> Any:
    reply = await bus.call(
        Message(
            destination=NM,
            path=path,
            interface=interface,
            member=member,
            signature="s" * len(args),
            body=list(args),
        )
    )
    return record(reply)


async def replies(bus: MessageBus) -> dict[str, Any]:
    device = (await call(bus, DEVICE, PROPS, "GetAll", f"{NM}.Device"))["body"][0]
    active = device["ActiveConnection"]["value"]
    ip4, ip6 = device["Ip4Config"]["value"], device["Ip6Config"]["value"]
    return {
        "GetDevices": await call(bus, NM_PATH, NM, "GetDevices"),
        "GetAll.Manager": await call(bus, NM_PATH, PROPS, "GetAll", NM),
        "GetAll.Device.lo": await call(
            bus, NM_PATH + "/Devices/1", PROPS, "GetAll", f"{NM}.Device"
        ),
        "GetAll.Device.eth0": await call(bus, DEVICE, PROPS, "GetAll", f"{NM}.Device"),
        "GetAll.ActiveConnection": await call(
            bus, active, PROPS, "GetAll", f"{NM}.Connection.Active"
        ),
        "GetAll.IP4Config": await call(bus, ip4, PROPS, "GetAll", f"{NM}.IP4Config"),
        "GetAll.IP6Config": await call(bus, ip6, PROPS, "GetAll", f"{NM}.IP6Config"),
    }


async def walk(lab: Lab, nm: NetworkManagerNode, rec: Recorder, bus: MessageBus) -> dict[str, Any]:
    rec.phase("activation")
    await nm.start_nm()
    await rec.until("activated", state_changed(100, 90))
    await rec.until("connected-global", manager_state(70))
    answers = await replies(bus)
    rec.phase("down")
    await nm.nmcli("connection", "down", "wired")
    await rec.until("disconnected", state_changed(30, 110))
    await rec.until("active connection removed", connection_removed)
    rec.phase("up")
    await nm.nmcli("connection", "up", "wired")
    await rec.until("activated", state_changed(100, 90))
    await rec.until("connected-global", manager_state(70))
    rec.phase("kill")
    await nm.kill_nm()
    await rec.until("NetworkManager left the bus", owner_gone)
    rec.phase("restart")
    await nm.start_nm()
    await rec.until("activated", state_changed(100, 90))
    await rec.until("connected-global", manager_state(70))
    rec.phase("carrier-lost")
    await lab.run("server", "ip", "link", "set", "eth0", "down")
    await rec.until("unavailable", state_changed(20, 100))
    await rec.until("active connection removed", connection_removed)
    rec.phase("carrier-back")
    await lab.run("server", "ip", "link", "set", "eth0", "up")
    await rec.until("activated", state_changed(100, 90))
    await rec.until("connected-global", manager_state(70))
    return answers


async def main() -> None:
    rec = Recorder()
    scratch = tempfile.TemporaryDirectory(prefix="netevd-record-")
    async with Lab(networkmanager_dhcp()) as lab:
        server = DnsmasqServer(
            lab.ns("server"),
            "eth0",
            scratch.name,
            pool=("10.231.80.100", "10.231.80.150"),
            router="10.231.80.1",
        )
        await lab.start_process(server)
        await server.wait_ready()
        async with NetworkManagerNode(lab.ns("client")) as nm:
            await nm.stop_nm()  # watch from before it starts
            await nm.add_connection("wired", "eth0", uuid=UUID)
            bus = await MessageBus(bus_address=nm.address).connect()
            for rule in (f"type='signal',sender='{NM}'", f"type='signal',arg0='{NM}'"):
                await bus.call(
                    Message(
                        destination="org.freedesktop.DBus",
                        path="/org/freedesktop/DBus",
                        interface="org.freedesktop.DBus",
                        member="AddMatch",
                        signature="s",
                        body=[rule],
                    )
                )
            bus.add_message_handler(rec.on_message)
            try:
                answers = await walk(lab, nm, rec, bus)
            finally:
                bus.disconnect()
    scratch.cleanup()
    (HERE / "signals.jsonl").write_text("".join(json.dumps(s) + "\n" for s in rec.lines))
    (HERE / "replies.json").write_text(json.dumps(answers, indent=1) + "\n")
    print(f"recorded {len(rec.lines)} lines", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
