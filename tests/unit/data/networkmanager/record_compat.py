"""Record what the real NetworkManager and its real nm-dispatcher do, for compat.nm_dispatcher.

Run as root from the repository root:
``.venv/bin/python tests/unit/data/networkmanager/record_compat.py``. It builds the lab's
NetworkManager DHCP pair (dnsmasq in ``server`` with a router, two DNS servers, a domain and
a renewal time of 3 s), starts NetworkManager with the real ``nm-dispatcher`` beside it (a
recorder script in its ``dispatcher.d``), watches the bus, and walks eth0 through activation, a
renewal and ``nmcli connection down``. It writes ``compat-recording.json`` next to this file:

- ``signals``: every signal from NetworkManager, in arrival order (the format of record.py);
- ``replies``: GetAll of the device, its IP4Config, DHCP4Config and of the Settings object;
- ``dispatched``: every script run of the real nm-dispatcher: its two arguments and the
  environment it got (NetworkManager 1.42's own, nothing of ours), in order.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from dbus_fast import Message
from dbus_fast.aio import MessageBus

sys.path.insert(0, str(Path(__file__).parent))

from record import Recorder, encode, manager_state, state_changed

from lab import DnsmasqServer, Lab, wait_until
from lab.daemons.networkmanager import NetworkManagerNode, networkmanager_dhcp

HERE = Path(__file__).parent
NM = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
UUID = "5c0ffee0-0000-4000-8000-00000000beef"
DEVICE = NM_PATH + "/Devices/2"
RECORDER = """#!/bin/sh
n=$(date +%s%N)
f="{out}/$n-$$"
env -0 > "$f.tmp"; printf '%s\\0' "$@" > "$f.args"; mv "$f.tmp" "$f.env"
"""
OWN = ("PWD", "SHLVL", "_")  # the recorder shell's own variables


def dispatched(out: Path) -> list[dict[str, Any]]:
    runs = []
    for path in sorted(out.glob("*.env"), key=lambda p: int(p.name.split("-")[0])):
        items = path.read_bytes().split(b"\0")
        env = dict(i.decode().split("=", 1) for i in items if b"=" in i)
        args = path.with_suffix(".args").read_bytes().split(b"\0")[:-1]
        runs.append(
            {
                "args": [a.decode() for a in args],
                "env": {k: v for k, v in sorted(env.items()) if k not in OWN},
            }
        )
    return runs


async def get_all(bus: MessageBus, path: str, interface: str) -> dict[str, Any]:
    reply = await bus.call(
        Message(
            destination=NM,
            path=path,
            interface="org.freedesktop.DBus.Properties",
            member="GetAll",
            signature="s",
            body=[interface],
        )
    )
    return {"signature": reply.signature, "body": encode(reply.body)}


async def replies(bus: MessageBus) -> dict[str, Any]:
    device = await get_all(bus, DEVICE, f"{NM}.Device")
    props = device["body"][0]
    return {
        "GetAll.Device.eth0": device,
        "GetAll.IP4Config": await get_all(bus, props["Ip4Config"]["value"], f"{NM}.IP4Config"),
        "GetAll.DHCP4Config": await get_all(
            bus, props["Dhcp4Config"]["value"], f"{NM}.DHCP4Config"
        ),
        "GetAll.Settings": await get_all(bus, NM_PATH + "/Settings", f"{NM}.Settings"),
    }


async def walk(nm: NetworkManagerNode, rec: Recorder, bus: MessageBus, out: Path) -> Any:
    rec.phase("activation")
    await nm.add_connection("wired", "eth0", uuid=UUID)
    await rec.until("activated", state_changed(100, 90))
    await rec.until("connected-global", manager_state(70))
    answers = await replies(bus)
    rec.phase("renewal")

    def renewed(line: dict[str, Any]) -> bool:
        return "DHCP4Config/" in (line.get("path") or "") and line["member"] == "PropertiesChanged"

    await rec.until("a renewal's new options", renewed)
    rec.phase("down")
    await nm.nmcli("connection", "down", "wired")
    await rec.until("disconnected", state_changed(30, 110))

    def down_dispatched() -> bool:
        return any(run["args"][1:] == ["down"] for run in dispatched(out))

    await wait_until(down_dispatched, 20, message="nm-dispatcher ran the down scripts")
    return answers


async def main() -> None:
    rec = Recorder()
    scratch = Path(tempfile.mkdtemp(prefix="netevd-record-compat-"))
    out = scratch / "out"
    out.mkdir()
    out.chmod(0o777)
    async with Lab(networkmanager_dhcp()) as lab:
        server = DnsmasqServer(
            lab.ns("server"),
            "eth0",
            scratch / "dnsmasq",
            pool=("10.231.80.100", "10.231.80.150"),
            router="10.231.80.1",
            dns=("10.231.80.53", "10.231.80.54"),
            domain="lab.example",
            renewal=3,
        )
        await lab.start_process(server)
        await server.wait_ready()
        async with NetworkManagerNode(lab.ns("client")) as nm:
            script = nm.dispatcher_etc / "50-record"
            script.write_text(RECORDER.format(out=out))
            script.chmod(0o755)
            await nm.start_dispatcher()
            bus = await MessageBus(bus_address=nm.address).connect()
            bus.add_message_handler(rec.on_message)
            await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="AddMatch",
                    signature="s",
                    body=[f"type='signal',sender='{NM}'"],
                )
            )
            answers = await walk(nm, rec, bus, out)
            bus.disconnect()
    document = {"signals": rec.lines, "replies": answers, "dispatched": dispatched(out)}
    (HERE / "compat-recording.json").write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
