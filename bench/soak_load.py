"""The soak's mixed load: what changes in the kernel, and the API and stream clients.

Every kernel change goes through a long-lived ``ip -force -batch -`` per job (one process fed
line by line), so the bench itself costs a few syscalls per change rather than a fork; each
trigger's time is taken right after its line was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from lab.http import NsApi, socket_in_netns
from netevd.client.http import parse_sse

FLAP_LINKS = 20
ADDRESS_LINKS = 10
ROUTE_GATEWAY = "10.214.0.2"
ROUTE_TICK = 0.1  # seconds between two route writes; ROUTES_PER_S / 10 changes each
ROUTES_LIVE = 500  # routes kept in the table while the churn runs (added, later deleted)
RATE_PERIOD = 10.0  # seconds the flap rate keeps before a new one is drawn from 1..10 /s


class Batch:
    """``ip -n NETNS -force -batch -``: one process for all of a job's lines."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.proc: asyncio.subprocess.Process | None = None
        self.lines = 0

    async def start(self) -> Batch:
        self.proc = await asyncio.create_subprocess_exec(
            *("ip", "-n", self.netns, "-force", "-batch", "-"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,  # -force: a failed line (a race) is no stop
        )
        return self

    async def send(self, *lines: str) -> float:
        """Write *lines*; returns time.time() once they are in ip's pipe."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(("\n".join(lines) + "\n").encode())
        await self.proc.stdin.drain()
        self.lines += len(lines)
        return time.time()

    async def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def ticking(stop: asyncio.Event, period: float, tick: Callable[[], Any]) -> None:
    """Call *tick* every *period* seconds (start to start) until *stop*."""
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while not stop.is_set():
        await tick()
        next_at += period
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - loop.time()))


# -- kernel load -----------------------------------------------------------------------------------


@dataclass
class Flapper:
    """Carrier flaps of ``fl0``..``fl19`` (their peers set down, then up) at a total rate drawn
    from 1..10 flaps/s every RATE_PERIOD seconds; each trigger is kept as (t, link, state)."""

    batch: Batch
    rng: random.Random
    triggers: list[tuple[float, str, str]] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    rates: list[tuple[float, float]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        ups: set[asyncio.Task[None]] = set()
        rate, rate_until = 1.0, 0.0
        while not stop.is_set():
            if loop.time() >= rate_until:
                rate, rate_until = self.rng.uniform(1, 10), loop.time() + RATE_PERIOD
                self.rates.append((time.time(), rate))
            idle = [f"fl{i}" for i in range(FLAP_LINKS) if f"fl{i}" not in self.down]
            if idle:
                link = self.rng.choice(idle)
                self.down.add(link)
                self.triggers.append(
                    (await self.batch.send(f"link set {link} down"), link, "no-carrier")
                )
                task = asyncio.create_task(self._up_later(link, self.rng.uniform(0.1, 1.0)))
                ups.add(task)
                task.add_done_callback(ups.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.rng.expovariate(rate))
        await asyncio.gather(*ups)

    async def _up_later(self, link: str, hold: float) -> None:
        await asyncio.sleep(hold)  # how long the cable stays out: the load's own schedule
        self.triggers.append((await self.batch.send(f"link set {link} up"), link, "carrier"))
        self.down.discard(link)


@dataclass
class RouteChurn:
    """ROUTES_PER_S route changes a second on ``rt0``: adds, and deletes of the routes added
    ROUTES_LIVE changes earlier."""

    batch: Batch
    per_s: int
    live: list[str] = field(default_factory=list)
    changes: int = 0
    _next: int = 0

    async def tick(self) -> None:
        lines = []
        for _ in range(max(1, int(self.per_s * ROUTE_TICK)) // 2):
            k = self._next % 10_000
            self._next += 1
            dst = f"10.{100 + k // 250}.{k % 250}.0/24"
            lines.append(f"route add {dst} via {ROUTE_GATEWAY} dev rt0")
            self.live.append(dst)
            if len(self.live) > ROUTES_LIVE // 2:
                lines.append(f"route del {self.live.pop(0)} dev rt0")
        self.changes += len(lines)
        await self.batch.send(*lines)


@dataclass
class AddressChurn:
    """An address added to or deleted from one of ``ac0``..``ac9`` every 0.1 s (each link once
    a second, alternating)."""

    batch: Batch
    present: set[int] = field(default_factory=set)
    changes: int = 0
    _turn: int = 0

    async def tick(self) -> None:
        i = self._turn % ADDRESS_LINKS
        self._turn += 1
        verb = "del" if i in self.present else "add"
        self.present.symmetric_difference_update({i})
        self.changes += 1
        await self.batch.send(f"addr {verb} 10.220.{i}.1/24 dev ac{i}")


@dataclass
class LinkChurn:
    """A veth ``lcN`` (its peer in the peer namespace) created every second and deleted half a
    second later."""

    batch: Batch
    peer_netns: str
    created: int = 0
    deleted: int = 0

    async def tick(self) -> None:
        name = f"lc{self.created % 1000}"
        self.created += 1
        await self.batch.send(f"link add {name} type veth peer name {name} netns {self.peer_netns}")
        await asyncio.sleep(0.5)  # the link's lifetime: the load's own schedule
        await self.batch.send(f"link del {name}")
        self.deleted += 1


# -- API and stream clients ------------------------------------------------------------------------


@dataclass
class ApiClient:
    """GET ``/api/v1/status`` and ``/api/v1/interfaces`` in turn; every answer as
    (t, seconds, ok)."""

    api: NsApi
    answers: list[tuple[float, float, bool]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _turn: int = 0

    async def tick(self) -> None:
        path = ("/api/v1/status", "/api/v1/interfaces")[self._turn % 2]
        self._turn += 1
        t0 = time.monotonic()
        try:
            status, _ = await self.api.get(path)
        except (TimeoutError, OSError, ValueError, aiohttp.ClientError) as exc:
            self.errors.append(repr(exc)[:200])
            self.answers.append((time.time(), time.monotonic() - t0, False))
        else:
            self.answers.append((time.time(), time.monotonic() - t0, status == 200))


@dataclass
class StreamReader:
    """An SSE client that reads its stream; a recorder parses it (the event log: each event's
    seq, link and the directories it fired, and the scripts the daemon says ran), the others
    count bytes."""

    api: NsApi
    record: bool
    query: str = ""  # "?interface=fl0": the daemon sends only what matches
    received: int = 0
    reconnects: int = 0
    overflows: int = 0
    fired: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    ran: set[tuple[int, str]] = field(default_factory=set)
    last_id: int | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)  # the first answer came

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            headers = {} if self.last_id is None else {"Last-Event-ID": str(self.last_id)}
            try:
                path = "/api/v1/events/stream" + self.query
                async with self.api.stream(path, headers=headers) as resp:
                    self.connected.set()
                    await (self._parse(resp) if self.record else self._count(resp))
            except (OSError, aiohttp.ClientError, ValueError):
                pass
            self.reconnects += 1

    async def _count(self, response: aiohttp.ClientResponse) -> None:
        async for chunk in response.content.iter_any():
            self.received += len(chunk)

    async def _parse(self, response: aiohttp.ClientResponse) -> None:
        async for kind, ident, data in parse_sse(response.content):
            self.received += 1
            if kind == "overflow":
                self.overflows += 1
                return
            if kind == "event" and isinstance(data, dict):
                self.last_id = ident
                directories = tuple(str(d) for d in data.get("directories") or ())
                self.fired[int(data["seq"])] = (str(data.get("link_name")), directories)
            elif kind == "script" and isinstance(data, dict):
                self.ran.add((int(data["seq"]), str(data["directory"])))


class DeafStream:
    """An SSE client that sends its request and never reads a byte."""

    def __init__(self, netns: str, port: int) -> None:
        self.netns, self.port = netns, port
        self.sock: socket.socket | None = None

    async def open(self) -> None:
        sock = socket_in_netns(self.netns, socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        request = b"GET /api/v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        await asyncio.get_running_loop().sock_sendall(sock, request)
        self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
