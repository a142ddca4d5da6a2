"""Run as another user by test_resolved_hostnamed.py (``setpriv --reuid``): each call netevd makes
to resolved and hostnamed, plus one it never makes, and prints every D-Bus error name ("" for
success) as JSON. Arguments: bus address, ifindex, host name."""

import asyncio
import json
import sys

from netevd.executors.dbus_client import BusCaller
from netevd.executors.dbus_requests import HOSTNAME1, HOSTNAME1_INTERFACE, HOSTNAME1_PATH, Request
from netevd.executors.hostnamed import HostnamedClient
from netevd.executors.resolved import ResolvedClient


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


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))))
