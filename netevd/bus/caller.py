"""One system-bus connection for method calls to a systemd service, failures as values.

:meth:`BusCaller.call` sends a :class:`Request` (netevd.executors.names.requests builds them) and
returns an :class:`Outcome`; it never raises (short of cancellation). The connection is made on
first use (``DBUS_SYSTEM_BUS_ADDRESS`` from the given environment, else the system bus) and made
again after it breaks. Every call is counted by member and result, every failure by its D-Bus error
name (``org.freedesktop.DBus.Error.AccessDenied`` when polkit says no,
``org.freedesktop.DBus.Error.ServiceUnknown`` when the service is not there, ...), and mirrored
into ``netevd_dbus_calls_total`` / ``netevd_dbus_errors_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from netevd.bus.connection import connect
from netevd.bus.follow import BusCounters
from netevd.telemetry.metrics import Metrics

CALL_TIMEOUT = 10.0
TIMEOUT = "netevd.Error.Timeout"
DISCONNECTED = "netevd.Error.Disconnected"
INVALID = "netevd.Error.Invalid"


@dataclass(frozen=True, slots=True)
class Request:
    destination: str
    path: str
    interface: str
    member: str
    signature: str
    body: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    error: str = ""  # a D-Bus error name, or one of netevd.Error.{Timeout,Disconnected,Invalid}
    detail: str = ""
    called: bool = True  # False: nothing was sent (the same values are already in place)


UNCHANGED = Outcome(True, called=False)


class BusCaller:
    def __init__(
        self,
        service: str,
        *,
        env: Mapping[str, str],
        call_timeout: float = CALL_TIMEOUT,
        metrics: Metrics | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.service = service  # the metrics label: "systemd-resolved", "systemd-hostnamed"
        self._env = env
        self._timeout = call_timeout
        self._log = log or logging.getLogger("netevd.dbus")
        self._bus: MessageBus | None = None
        self._connecting = asyncio.Lock()
        # call.<member>.<ok|error> (counted and mirrored as a source's calls), error.<name>, invalid
        self._counters = BusCounters(service, self._log, metrics)
        self.counts: Counter[str] = self._counters.counts

    async def call(self, request: Request | Invalid, what: str = "") -> Outcome:
        if isinstance(request, Invalid):
            self.counts["invalid"] += 1
            self._log.warning("%s.invalid %s reason=%r", self.service, what, request.reason)
            return Outcome(False, INVALID, request.reason, called=False)
        try:
            bus = await self._connection()
            reply = await asyncio.wait_for(bus.call(_message(request)), self._timeout)
        except TimeoutError:
            outcome = Outcome(False, TIMEOUT, f"no answer within {self._timeout:g}s")
        except Exception as exc:  # the bus is unreachable or went away mid-call
            self._drop()
            outcome = Outcome(False, DISCONNECTED, str(exc) or type(exc).__name__)
        else:
            outcome = _outcome(reply)
        self._account(request.member, outcome, what)
        return outcome

    async def close(self) -> None:
        self._drop()

    async def _connection(self) -> MessageBus:
        async with self._connecting:
            if self._bus is not None and self._bus.connected:
                return self._bus
            self._drop()
            self._bus = await connect(self._env, self._timeout)
            return self._bus

    def _drop(self) -> None:
        if self._bus is not None:
            with contextlib.suppress(Exception):
                self._bus.disconnect()
            self._bus = None

    def _account(self, member: str, outcome: Outcome, what: str) -> None:
        self._counters.count(f"call.{member}.{'ok' if outcome.ok else 'error'}")
        if outcome.ok:
            self._log.info("%s.call member=%s %s", self.service, member, what)
            return
        self.counts[f"error.{outcome.error}"] += 1
        self._log.warning(
            "%s.failed member=%s %s error=%s detail=%r",
            self.service,
            member,
            what,
            outcome.error,
            outcome.detail,
        )


def _message(request: Request) -> Message:
    return Message(
        destination=request.destination,
        path=request.path,
        interface=request.interface,
        member=request.member,
        signature=request.signature,
        body=list(request.body),
    )


def _outcome(reply: Message) -> Outcome:
    if reply.message_type is MessageType.ERROR:
        body = reply.body
        detail = body[0] if body and isinstance(body[0], str) else ""
        return Outcome(False, reply.error_name or "unknown", detail[:512])
    return Outcome(True)
