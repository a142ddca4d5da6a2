"""Run by test_resolved_hostnamed.py: becomes another user, makes each call netevd makes to
resolved and hostnamed, plus one it never makes, and prints every D-Bus error name ("" for
success) as JSON. Arguments: uid, bus address, ifindex, host name.

It starts as root and drops to the uid only after everything is imported, just before it
connects (D-Bus takes the caller's credentials at connect time): the checkout and its venv may
be readable by root alone (a CI clone in a 0700 directory).
"""

import asyncio
import asyncio.unix_events  # imported before the privileges go
import json
import os
import sys

import dbus_fast.aio
import dbus_fast.auth  # noqa: F401 - loaded now: the bus is reached after the drop

from netevd.bus.caller import BusCaller, Request
from netevd.executors.names.hostnamed import HostnamedClient
from netevd.executors.names.requests import HOSTNAME1, HOSTNAME1_INTERFACE, HOSTNAME1_PATH
from netevd.executors.names.resolved import ResolvedClient


async def main(address: str, ifindex: int, hostname: str) -> dict[str, str]:
    env = {"DBUS_SYSTEM_BUS_ADDRESS": address}
    resolved, hostnamed = ResolvedClient(env=env), HostnamedClient(env=env)
    caller = BusCaller("test", env=env)
    static = Request(
        HOSTNAME1, HOSTNAME1_PATH, HOSTNAME1_INTERFACE, "SetStaticHostname", "sb", (hostname, False)
    )
    try:
        outcomes = {
            "SetLinkDNS": await resolved.set_dns(ifindex, ["10.231.82.53"]),
            "SetLinkDomains": await resolved.set_domains(ifindex, ["lab.test"]),
            "RevertLink": await resolved.revert(ifindex),
            "SetHostname": await hostnamed.set_hostname(hostname),
            "SetStaticHostname": await caller.call(static),
        }
    finally:
        for client in (resolved, hostnamed, caller):
            await client.close()
    return {member: outcome.error for member, outcome in outcomes.items()}


def become(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


if __name__ == "__main__":
    become(int(sys.argv[1]))
    print(json.dumps(asyncio.run(main(sys.argv[2], int(sys.argv[3]), sys.argv[4]))))
