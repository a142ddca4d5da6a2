"""The neighbour executor: makes netevd's managed neighbour entries match the core's list
(``monitoring.gateway_liveness``, netevd.core.react.liveness).

netevd's entries carry NDA_PROTOCOL 78 (RTPROT_NETEVD, as its rules and routes), so it only
ever removes its own. Each reconcile reads the kernel's neighbour table (the raw reader), adds
what is missing and removes its own entries that are no longer wanted. A kernel-learnt entry
of a gateway (protocol 0, not permanent) is taken over; a permanent or another tool's entry
is left alone and logged once: someone else decided about that neighbour. A failed read
changes nothing.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from netevd.core.actions import ManageNeighbours
from netevd.core.model import RTPROT_NETEVD, Neigh
from netevd.executors.tasks import Spawn, create_task
from netevd.kernel import rtnl
from netevd.kernel.snapshot import neighbours

if TYPE_CHECKING:
    from netevd.executors.neigh_writes import NeighbourWriter

log = logging.getLogger("netevd.neighbours")

NUD_NOARP, NUD_PERMANENT = 0x40, 0x80
OK_ON_DEL = {errno.ENOENT, errno.ESRCH}
Key = tuple[int, int, str]


def _owned(neigh: Neigh) -> bool:
    return neigh.protocol == RTPROT_NETEVD


def _takeable(neigh: Neigh) -> bool:
    """A kernel-learnt entry, which netevd may turn into a managed one of its own."""
    return neigh.protocol in (0, RTPROT_NETEVD) and not neigh.state & (NUD_NOARP | NUD_PERMANENT)


class NeighbourExecutor:
    def __init__(self, *, spawn: Spawn = create_task) -> None:
        self._spawn = spawn
        self._latest: frozenset[Key] | None = None
        self._worker: asyncio.Task[Any] | None = None
        self._refused: set[Key] = set()  # foreign entries already logged

    def submit(self, action: ManageNeighbours) -> None:
        self._latest = action.entries  # the newest list wins
        if self._worker is None or self._worker.done():
            self._worker = self._spawn(self._drain(), "neighbours")

    async def idle(self) -> None:
        while self._worker is not None and not self._worker.done():
            await asyncio.wait({self._worker})

    async def stop(self, cleanup: bool) -> None:
        """Finish the work in hand; with *cleanup* (``monitoring.gateway_liveness_cleanup``)
        remove every entry netevd made."""
        self._latest = None
        await self.idle()
        if cleanup:
            log.info("neighbours.cleanup removing every neighbour entry netevd made")
            await self._reconcile(frozenset())

    async def _drain(self) -> None:
        while self._latest is not None:
            wanted, self._latest = self._latest, None
            try:
                await self._reconcile(wanted)
            except Exception:  # the next list must still be applied
                log.exception("neighbours.failed")

    async def _reconcile(self, wanted: frozenset[Key]) -> None:
        try:
            with rtnl.open_socket() as sock:
                present = {n.key: n for n in await neighbours(sock)}
        except OSError as exc:
            log.error("neighbours.read_failed error=%r (nothing changed)", str(exc))
            return
        add = [self._to_add(key, present.get(key)) for key in sorted(wanted)]
        adds = [n for n in add if n is not None]
        removes = [n for k, n in sorted(present.items()) if _owned(n) and k not in wanted]
        if not adds and not removes:
            return
        from netevd.executors.neigh_writes import NeighbourWriter  # pyroute2 only now

        writer = NeighbourWriter()
        async with writer:
            await self._write(writer, adds, removes)

    def _to_add(self, key: Key, present: Neigh | None) -> Neigh | None:
        if present is None:
            return Neigh(*key)
        if _owned(present):
            return None
        if _takeable(present):
            return replace(present, protocol=RTPROT_NETEVD)
        if key not in self._refused:
            self._refused.add(key)
            log.warning(
                "neighbours.foreign address=%s ifindex=%d protocol=%d state=%s (an entry "
                "netevd did not make; its liveness is not watched)",
                present.address,
                present.index,
                present.protocol,
                present.state_name,
            )
        return None

    async def _write(
        self, writer: NeighbourWriter, adds: list[Neigh], removes: list[Neigh]
    ) -> None:
        for neigh in adds:
            code = await writer.manage(neigh)
            if code:
                log.error("neighbours.add_failed address=%s errno=%d", neigh.address, code)
            else:
                log.info("neighbours.managed address=%s ifindex=%d", neigh.address, neigh.index)
        for neigh in removes:
            code = await writer.remove(neigh)
            if code and code not in OK_ON_DEL:
                log.error("neighbours.del_failed address=%s errno=%d", neigh.address, code)
            else:
                log.info("neighbours.removed address=%s ifindex=%d", neigh.address, neigh.index)
