"""Writes of netevd's managed neighbour entries (pyroute2's request builder).

Imported by the neighbour executor at its first change to make: a daemon without
``monitoring.gateway_liveness`` never loads it (tests/unit/test_footprint.py).
"""

from __future__ import annotations

from pyroute2.netlink.exceptions import NetlinkError

from netevd.core.model import NTF_EXT_MANAGED, RTPROT_NETEVD, Neigh
from netevd.executors.route_writes import KernelWriter


class NeighbourWriter(KernelWriter):
    """The routing executor's socket (one per reconcile), writing neighbour entries."""

    async def manage(self, neigh: Neigh) -> int:
        """Make *neigh* a managed entry of netevd's (replace: a kernel-learnt entry of the
        same address becomes it); 0 on success, else the kernel's errno."""
        return await self._call(
            "replace",
            dst=neigh.address,
            ifindex=neigh.index,
            family=neigh.family,
            state=neigh.state,  # NUD_NONE for a new entry: the kernel resolves it itself
            NDA_FLAGS_EXT=NTF_EXT_MANAGED,
            NDA_PROTOCOL=RTPROT_NETEVD,
        )

    async def remove(self, neigh: Neigh) -> int:
        return await self._call("del", dst=neigh.address, ifindex=neigh.index, family=neigh.family)

    async def _call(self, command: str, **spec: object) -> int:
        try:
            await self._ipr.neigh(command, **spec)
        except NetlinkError as exc:
            return int(exc.code)
        return 0
