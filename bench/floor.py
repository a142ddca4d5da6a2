"""The floor a carrier change is measured against (run inside a lab namespace): a bare pyroute2
reader that spawns the script, and does nothing else (the anchor study's "floor A").

It binds an AsyncIPRoute to the link group, keeps *link*'s carrier (IFF_LOWER_UP) and, on
each change, starts ``SCRIPT`` with ``STATE`` (carrier / no-carrier) and ``LINK`` in its
environment, as netevd gives the stamp script. It prints ``ready`` once bound.

    ip netns exec NS python -m bench.floor --link eth0 --carrier DIR/carrier.d/50-stamp \\
        --no-carrier DIR/no-carrier.d/50-stamp
"""

from __future__ import annotations

import argparse
import asyncio

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.rtnl import RTMGRP_LINK

IFF_LOWER_UP = 0x10000


async def watch(link: str, scripts: dict[str, str]) -> None:
    carrier: bool | None = None
    children: set[asyncio.subprocess.Process] = set()
    async with AsyncIPRoute() as ipr:
        await ipr.bind(groups=RTMGRP_LINK)
        print("ready", flush=True)
        while True:
            async for msg in ipr.get():
                if msg.get("event") != "RTM_NEWLINK" or msg.get("ifname") != link:
                    continue
                now = bool(msg["flags"] & IFF_LOWER_UP)
                if now == carrier:
                    continue
                carrier = now
                state = "carrier" if now else "no-carrier"
                env = {"STATE": state, "LINK": link, "PATH": "/usr/bin:/bin"}
                child = await asyncio.create_subprocess_exec(scripts[state], env=env)
                children.add(child)
                for done in [c for c in children if c.returncode is not None]:
                    children.discard(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--link", default="eth0")
    parser.add_argument("--carrier", required=True)
    parser.add_argument("--no-carrier", required=True)
    args = parser.parse_args()
    asyncio.run(watch(args.link, {"carrier": args.carrier, "no-carrier": args.no_carrier}))


if __name__ == "__main__":
    main()
