"""Sets the DHCP-learned host name through systemd-hostnamed (org.freedesktop.hostname1).

``SetHostname(name, interactive=false)`` sets the *transient* host name, which is what a DHCP
server may decide: hostnamed applies it to the kernel only while no static host name
(/etc/hostname) is configured, exactly as it does for systemd-networkd. The name is checked
first (letters, digits and hyphens in dot-separated labels, at most 64 characters); a name that
fails is never sent. The last accepted name is remembered, so the same name is not sent twice;
a call that failed (``org.freedesktop.DBus.Error.AccessDenied`` when polkit does not allow
``org.freedesktop.hostname1.set-hostname``, ``...ServiceUnknown`` when hostnamed cannot be
started) is remembered and sent again on the next change or by :meth:`retry`. hostnamed
exits after 30 s without calls and is started again by the bus on the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping

from netevd.bus.caller import UNCHANGED, BusCaller, Outcome
from netevd.executors.names.requests import set_hostname
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.hostnamed")
SERVICE = "systemd-hostnamed"


class HostnamedClient:
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
        self._applied: str | None = None
        self._pending: str | None = None
        self._lock = asyncio.Lock()

    @property
    def counts(self) -> Counter[str]:
        return self._caller.counts

    @property
    def pending(self) -> str | None:
        """The name that failed and will be sent again, if any."""
        return self._pending

    async def set_hostname(self, name: str) -> Outcome:
        async with self._lock:
            if name == self._applied:
                self._pending = None
                return UNCHANGED
            outcome = await self._caller.call(set_hostname(name), f"hostname={name!r}")
            if outcome.ok:
                self._applied, self._pending = name, None
            else:
                self._applied = None
                self._pending = name if outcome.called else None
            return outcome

    async def retry(self) -> Outcome | None:
        pending = self._pending
        return None if pending is None else await self.set_hostname(pending)

    async def close(self) -> None:
        await self._caller.close()
