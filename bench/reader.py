"""The bare pyroute2 reader a route storm is measured against (run inside a lab namespace).

What a person writing their own ``ip monitor route`` in Python would do, and nothing more:
bind an AsyncIPRoute to the IPv4 route group with the same 8 MiB receive buffer netevd uses,
``get()`` the messages, and read each new route's dst, gateway and oif. It prints ``ready``
once bound, then ``done T N`` when it has read the *count*-th route via the storm's gateway (T
is time.time() then), or ``overrun T N`` when the kernel reported that it dropped messages
(ENOBUFS), after which a reader like this has lost the table and gives up.

    ip netns exec NS python -m bench.reader --count 20000 --gateway 10.214.1.2
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import socket
import time

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_IPV4_ROUTE

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


async def read(count: int, gateway: str, rcvbuf: int) -> str:
    seen = 0
    async with AsyncIPRoute() as ipr:
        await ipr.bind(groups=RTMGRP_IPV4_ROUTE)
        ipr.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        print("ready", flush=True)
        try:
            while True:
                async for msg in ipr.get():
                    if msg.get("event") != "RTM_NEWROUTE":
                        continue
                    route = (msg.get("dst"), msg.get("gateway"), msg.get("oif"))
                    if route[1] == gateway:
                        seen += 1
                        if seen >= count:
                            return f"done {time.time():.6f} {seen}"
        except (OSError, NetlinkError) as exc:
            code = getattr(exc, "code", None) or getattr(exc, "errno", None)
            what = "overrun" if code == errno.ENOBUFS else f"error-{code}"
            return f"{what} {time.time():.6f} {seen}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--rcvbuf", type=int, default=8 * 1024 * 1024)
    args = parser.parse_args()
    print(asyncio.run(read(args.count, args.gateway, args.rcvbuf)), flush=True)


if __name__ == "__main__":
    main()
