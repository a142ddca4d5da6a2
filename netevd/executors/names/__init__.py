"""The name-service executor: tells systemd-resolved and hostnamed what dhclient's leases say.

Actions are carried out one at a time, in order, by one worker (the engine never waits on the
bus). Before each new action the calls that failed earlier are sent again (the clients keep
them), so a resolved that was not there, or refused, catches up on the next change. Every call's
outcome goes back to the engine as ServiceCalled: logged, counted, kept in the event log. A
failed call is never a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from netevd.bus.caller import Outcome
from netevd.core.actions import PushHostname, PushLinkDns, RevertLinkDns
from netevd.core.events import Event, ServiceCalled
from netevd.executors.names.hostnamed import HostnamedClient
from netevd.executors.names.resolved import ResolvedClient
from netevd.executors.tasks import Spawn, create_task
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.names")

NameAction = PushLinkDns | RevertLinkDns | PushHostname


class NameServices:
    def __init__(
        self,
        report: Callable[[Event], None],
        *,
        env: Mapping[str, str],
        metrics: Metrics | None = None,
        spawn: Spawn = create_task,
    ) -> None:
        self._report = report
        self._spawn = spawn
        self._queue: deque[NameAction] = deque()
        self._worker: asyncio.Task[Any] | None = None
        self._resolved = ResolvedClient(env=env, metrics=metrics)
        self._hostnamed = HostnamedClient(env=env, metrics=metrics)

    def submit(self, action: NameAction) -> None:
        self._queue.append(action)
        if self._worker is None or self._worker.done():
            self._worker = self._spawn(self._drain(), "name-services")

    async def idle(self) -> None:
        while self._worker is not None and not self._worker.done():
            await asyncio.wait({self._worker})

    async def close(self) -> None:
        await self.idle()
        await self._resolved.close()
        await self._hostnamed.close()

    async def _drain(self) -> None:
        while self._queue:
            action = self._queue.popleft()
            try:
                await self._retry()
                await self._carry(action)
            except Exception:  # the next action must still be carried out
                log.exception("names.failed action=%s", type(action).__name__)

    async def _retry(self) -> None:
        for outcome in await self._resolved.retry():
            self._tell("resolved", "retry", 0, outcome)
        again = await self._hostnamed.retry()
        if again is not None:
            self._tell("hostnamed", "retry", 0, again)

    async def _carry(self, action: NameAction) -> None:
        match action:
            case PushLinkDns(index, _name, servers, domains):
                if servers is not None:
                    self._tell(
                        "resolved",
                        "SetLinkDNS",
                        index,
                        await self._resolved.set_dns(index, servers),
                    )
                if domains is not None:
                    outcome = await self._resolved.set_domains(index, domains)
                    self._tell("resolved", "SetLinkDomains", index, outcome)
            case RevertLinkDns(index, _name, gone):
                if gone:
                    self._resolved.forget(index)
                else:
                    self._tell("resolved", "RevertLink", index, await self._resolved.revert(index))
            case PushHostname(name):
                self._tell("hostnamed", "SetHostname", 0, await self._hostnamed.set_hostname(name))

    def _tell(self, service: str, call: str, index: int, outcome: Outcome) -> None:
        if not outcome.called:
            return  # nothing was sent: the same values are in place
        level = logging.INFO if outcome.ok else logging.WARNING
        log.log(
            level,
            "names.%s service=%s call=%s ifindex=%d error=%r detail=%r",
            "ok" if outcome.ok else "failed",
            service,
            call,
            index,
            outcome.error,
            outcome.detail,
        )
        self._report(ServiceCalled(service, call, index, outcome.ok, outcome.error, outcome.detail))
