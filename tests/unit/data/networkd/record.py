"""Record what the real systemd-networkd says on its bus, as test data for the unit tests.

Run as root from the repository root: ``.venv/bin/python tests/unit/data/networkd/record.py``.
It builds the lab's networkd DHCP pair, watches the client's bus from before networkd starts,
walks the link through DHCP, carrier loss (server side down and up), admin down and up and a
networkd stop, and writes ``signals.jsonl`` (one message a line, in arrival order) and
``replies.json`` (ListLinks, GetAll and Describe answers) next to this file. D-Bus variants are
stored as ``{"variant": SIGNATURE, "value": VALUE}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from lab import Lab
from lab.daemons.networkd import (
    NetworkdNode,
    dhcp_client_network,
    dhcp_server_network,
    networkd_dhcp,
)

HERE = Path(__file__).parent
NETWORK1 = "org.freedesktop.network1"
SIGNAL = MessageType.SIGNAL
LINK_SCOPE = "\n[Address]\nAddress=10.231.71.1/24\nScope=link\n"  # degraded while DHCP is away


def encode(value: Any) -> Any:
    if isinstance(value, Variant):
        return {"variant": value.signature, "value": encode(value.value)}
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


async def call(bus: MessageBus, path: str, interface: str, member: str, *args: Any) -> Any:
    signature = "s" if args and isinstance(args[0], str) else ""
    reply = await bus.call(
        Message(
            destination=NETWORK1,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(args),
        )
    )
    return record(reply)


async def main() -> None:
    signals: list[dict[str, Any]] = []
    async with Lab(networkd_dhcp()) as lab:
        server = NetworkdNode(
            lab.ns("server"), {"10-eth0.network": dhcp_server_network("eth0", "10.231.70.1/24")}
        )
        client = NetworkdNode(
            lab.ns("client"), {"10-eth0.network": dhcp_client_network("eth0", extra=LINK_SCOPE)}
        )
        async with server, client:
            await client.stop_networkd()  # watch from before it starts
            bus = await MessageBus(bus_address=client.address).connect()
            for rule in (
                f"type='signal',sender='{NETWORK1}'",
                f"type='signal',member='NameOwnerChanged',arg0='{NETWORK1}'",
            ):
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
            bus.add_message_handler(
                lambda m: signals.append(record(m)) if m.message_type is SIGNAL else None
            )
            await client.start_networkd()
            await client.wait_for("eth0", operational="routable", administrative="configured")
            replies = {
                "ListLinks": await call(
                    bus, "/org/freedesktop/network1", f"{NETWORK1}.Manager", "ListLinks"
                ),
                "GetAll.Manager": await call(
                    bus,
                    "/org/freedesktop/network1",
                    "org.freedesktop.DBus.Properties",
                    "GetAll",
                    f"{NETWORK1}.Manager",
                ),
                "GetAll.Link.lo": await call(
                    bus,
                    "/org/freedesktop/network1/link/_31",
                    "org.freedesktop.DBus.Properties",
                    "GetAll",
                    f"{NETWORK1}.Link",
                ),
                "GetAll.Link.eth0": await call(
                    bus,
                    "/org/freedesktop/network1/link/_340",
                    "org.freedesktop.DBus.Properties",
                    "GetAll",
                    f"{NETWORK1}.Link",
                ),
                "Describe.eth0": await call(
                    bus, "/org/freedesktop/network1/link/_340", f"{NETWORK1}.Link", "Describe"
                ),
            }
            await lab.run("server", "ip", "link", "set", "eth0", "down")
            await client.wait_for("eth0", operational="no-carrier")
            await lab.run("server", "ip", "link", "set", "eth0", "up")
            await client.wait_for("eth0", operational="routable", administrative="configured")
            await lab.run("client", "ip", "link", "set", "eth0", "down")
            await client.wait_for("eth0", operational="off")
            await lab.run("client", "ip", "link", "set", "eth0", "up")
            await client.wait_for("eth0", operational="routable", administrative="configured")
            await client.stop_networkd()
            await asyncio.sleep(0.5)  # a recording tool: let the last signals arrive
            bus.disconnect()
    (HERE / "signals.jsonl").write_text("".join(json.dumps(s) + "\n" for s in signals))
    (HERE / "replies.json").write_text(json.dumps(replies, indent=1) + "\n")
    print(f"recorded {len(signals)} signals", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
