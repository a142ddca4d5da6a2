"""DHCP-learned DNS servers and search domains, pushed to systemd-resolved (resolve1).

Per link, the client remembers what resolved last accepted: asking for the same servers again
sends nothing, and a call that failed (polkit said no, resolved was not running, the link was
not known yet) is forgotten, so the next change for that link, or :meth:`retry`, sends it
again. Calls for one link go out in order (a revert never overtakes the set before it);
different links proceed independently. Nothing here raises or blocks: run the coroutines as
tasks beside the engine.

resolved refuses ``SetLinkDNS`` for the loopback link and for links systemd-networkd manages
(``org.freedesktop.resolve1.LinkBusy``), for links it does not know
(``org.freedesktop.resolve1.NoSuchLink``), and, from a caller that is not root, unless polkit
allows ``org.freedesktop.resolve1.set-dns-servers`` / ``set-domains`` / ``revert`` (see
``polkit/50-netevd.rules``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from netevd.bus.caller import UNCHANGED, BusCaller, Outcome
from netevd.executors.names.requests import revert_link, set_link_dns, set_link_domains
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.resolved")
SERVICE = "systemd-resolved"

Setting = Literal["dns", "domains"]


class ResolvedClient:
    def __init__(
        self,
        *,
        env: Mapping[str, str],
        call_timeout: float = 10.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._caller = BusCaller(
            SERVICE, env=env, call_timeout=call_timeout, metrics=metrics, log=log
        )
        self._applied: dict[tuple[int, Setting], tuple[str, ...]] = {}
        self._pending: dict[tuple[int, Setting], tuple[str, ...]] = {}
        self._pending_revert: set[int] = set()
        self._locks: dict[int, asyncio.Lock] = {}

    @property
    def counts(self) -> Counter[str]:
        return self._caller.counts

    @property
    def pending(self) -> dict[tuple[int, Setting], tuple[str, ...]]:
        """What failed and will be sent again: (ifindex, "dns"|"domains") -> values."""
        return dict(self._pending)

    async def set_dns(self, ifindex: int, servers: Sequence[str]) -> Outcome:
        return await self._set(ifindex, "dns", tuple(servers))

    async def set_domains(self, ifindex: int, domains: Sequence[str]) -> Outcome:
        return await self._set(ifindex, "domains", tuple(domains))

    async def revert(self, ifindex: int) -> Outcome:
        """Forget everything set for the link (RevertLink): when its lease is lost."""
        async with self._lock(ifindex):
            for setting in ("dns", "domains"):
                self._pending.pop((ifindex, setting), None)
            outcome = await self._caller.call(revert_link(ifindex), f"ifindex={ifindex}")
            if outcome.ok or not outcome.called:
                self._pending_revert.discard(ifindex)
            else:
                self._pending_revert.add(ifindex)
            if outcome.called:  # whatever resolved holds now, it is not known to be ours
                self._applied.pop((ifindex, "dns"), None)
                self._applied.pop((ifindex, "domains"), None)
            return outcome

    async def retry(self) -> list[Outcome]:
        """Send again everything that failed."""
        outcomes = [await self.revert(index) for index in sorted(self._pending_revert)]
        for (index, setting), values in sorted(self._pending.items()):
            outcomes.append(await self._set(index, setting, values))
        return outcomes

    def forget(self, ifindex: int) -> None:
        """The link is gone: resolved forgets it too, nothing is left to revert or retry."""
        for setting in ("dns", "domains"):
            self._applied.pop((ifindex, setting), None)
            self._pending.pop((ifindex, setting), None)
        self._pending_revert.discard(ifindex)
        self._locks.pop(ifindex, None)

    async def close(self) -> None:
        await self._caller.close()

    async def _set(self, ifindex: int, setting: Setting, values: tuple[str, ...]) -> Outcome:
        key = (ifindex, setting)
        async with self._lock(ifindex):
            if self._applied.get(key) == values:
                self._pending.pop(key, None)
                return UNCHANGED
            build = set_link_dns if setting == "dns" else set_link_domains
            what = f"ifindex={ifindex} {setting}={' '.join(values) or '-'}"
            outcome = await self._caller.call(build(ifindex, values), what)
            if outcome.ok:
                self._applied[key] = values
                self._pending.pop(key, None)
                self._pending_revert.discard(ifindex)
            else:
                self._applied.pop(key, None)
                if outcome.called:  # an invalid value is not worth sending again
                    self._pending[key] = values
            return outcome

    def _lock(self, ifindex: int) -> asyncio.Lock:
        lock = self._locks.get(ifindex)
        if lock is None:
            lock = self._locks[ifindex] = asyncio.Lock()
        return lock
