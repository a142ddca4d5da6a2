"""What the storm benchmark watches while a storm runs: the API's answers, a carrier change on
another link, SIGTERM; and what it compares once the storm is over (the daemon's routes and
addresses against ``ip -j``'s)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pyroute2 import AsyncIPRoute

from bench.stamps import StampLog
from bench.stats import Summary
from lab.compare import kernel_routes as lab_kernel_routes
from lab.compare import prefix, table_number
from lab.http import NsApi
from lab.net.build import ip_json, run_command

POLL = 0.05  # seconds between the starts of two requests of one poller
FLIP_EVERY = 0.25  # seconds between carrier changes of the other link while a storm runs


@dataclass
class Poller:
    """GET *path* every POLL seconds (start to start) and keep how long each answer took."""

    api: NsApi
    path: str
    latencies: list[float] = field(default_factory=list)  # seconds
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    last: Any = None  # the newest answer's data

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            try:
                status, body = await self.api.get(self.path)
            except (TimeoutError, OSError, ValueError, aiohttp.ClientError) as exc:
                self.failures += 1
                self.errors.append(repr(exc)[:200])
            else:
                self.latencies.append(loop.time() - started)
                if status != 200:
                    self.failures += 1
                self.last = body.get("data") if isinstance(body, dict) else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, started + POLL - loop.time()))

    def summary(self) -> Summary:
        return Summary.of([v * 1e3 for v in self.latencies])


class CaughtUp:
    """The engine's time (``last_event.ts``) of the first status whose count of *what*
    (routes, addresses) is at least *expected* and equals the kernel's (*kernel*, read only
    then: a million routes take seconds to list); asked with a request of its own (a
    predicate for until()), so a slow or failed latency probe cannot hide it."""

    def __init__(
        self, api: NsApi, what: str, expected: int, kernel: Callable[[], Awaitable[int]]
    ) -> None:
        self.api = api
        self.what = what
        self.expected = expected
        self.kernel = kernel
        self.when: float | None = None
        self.seen: int | None = None  # the last count read

    async def reached(self) -> float | None:
        try:
            status = await self.api.status()
        except (TimeoutError, OSError, ValueError, aiohttp.ClientError):
            return None
        self.seen = int(status["counts"][self.what])
        # Routes only grow in a route storm; addresses grow and shrink again: exactly then.
        enough = self.seen >= self.expected if self.what == "routes" else self.seen == self.expected
        if not enough or self.seen != await self.kernel():
            return None
        event = status.get("last_event") or {}
        self.when = float(event.get("ts", time.time()))
        return self.when


@dataclass(frozen=True)
class Flip:
    t: float  # time.time() just before the request
    state: str  # the directory the change must fire on the watched end


class Flipper:
    """Sets the peer end of ``eth1`` down and up every FLIP_EVERY seconds while *busy()*; the
    watched end loses and regains carrier, which must run no-carrier.d / carrier.d at once."""

    def __init__(self, ipr: AsyncIPRoute, index: int, busy: Callable[[], bool]) -> None:
        self.ipr, self.index, self.busy = ipr, index, busy
        self.flips: list[Flip] = []

    async def run(self, stop: asyncio.Event) -> None:
        down = True
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLIP_EVERY)
            if stop.is_set() or not self.busy():
                continue
            self.flips.append(Flip(time.time(), "no-carrier" if down else "carrier"))
            await self.ipr.link("set", index=self.index, state="down" if down else "up")
            down = not down
        if not down:  # leave the link up
            await self.ipr.link("set", index=self.index, state="up")

    def latencies(self, stamps: StampLog, link: str = "eth1") -> tuple[list[float], int]:
        """(ms from each flip to its script's start, flips that ran no script)."""
        runs = stamps.matching(0, link=link)
        found, missed = [], 0
        for n, flip in enumerate(self.flips):
            end = self.flips[n + 1].t if n + 1 < len(self.flips) else float("inf")
            hit = next((r for r in runs if r.state == flip.state and flip.t <= r.t < end), None)
            if hit is None:
                missed += 1
            else:
                found.append((hit.t - flip.t) * 1e3)
        return found, missed


# -- the state after a storm ------------------------------------------------------------------


def _kernel_route(family: str, entry: dict[str, Any]) -> tuple[object, ...]:
    dst = str(ipaddress.ip_network(prefix(entry["dst"], family)))
    table = table_number(entry.get("table", "main"))
    gateway = entry.get("gateway")
    dev, metric = entry.get("dev"), int(entry.get("metric", 0))
    return (4 if family == "inet" else 6, table, dst, gateway, dev, metric)


async def kernel_routes(netns: str) -> Counter[tuple[object, ...]]:
    """Every route of every table, both families, as ``ip -j route show table all`` has it."""
    shown = await lab_kernel_routes(netns, timeout=300)
    return Counter(_kernel_route(family, entry) for family, entry in shown)


async def kernel_route_count(netns: str) -> int:
    """How many routes ``ip route show table all`` lists, both families: counted in its text
    (parsing a million routes' JSON would hold the bench's loop, and its probes, for seconds)."""
    total = 0
    for family in (4, 6):
        argv = ["ip", "-n", netns, f"-{family}", "route", "show", "table", "all"]
        out = await run_command(argv, timeout=300)
        total += sum(1 for line in out.stdout.splitlines() if line and not line[0].isspace())
    return total


async def daemon_routes(api: NsApi) -> Counter[tuple[object, ...]]:
    routes = await api.data("/api/v1/routes")
    return Counter(
        (
            4 if r["family"] == "inet" else 6,
            int(r["table"]),
            str(ipaddress.ip_network(r["dst"])),
            r["gateway"],
            r["interface"],
            int(r["metric"]),
        )
        for r in routes
    )


async def route_divergence(api: NsApi, netns: str) -> int:
    """Routes one side has and the other has not (``ip -j route show table all``, both
    families, against ``/api/v1/routes``), counted with multiplicity."""
    kernel, daemon = await kernel_routes(netns), await daemon_routes(api)
    return (kernel - daemon).total() + (daemon - kernel).total()


async def kernel_addresses(netns: str) -> set[tuple[str, str, int]]:
    return {
        (entry["ifname"], a["local"], int(a["prefixlen"]))
        for entry in await ip_json(netns, "addr", "show")
        for a in entry.get("addr_info", [])
    }


async def address_divergence(api: NsApi, netns: str) -> int:
    interfaces = await api.data("/api/v1/interfaces")
    daemon = {
        (i["name"], a["address"], int(a["prefixlen"])) for i in interfaces for a in i["addresses"]
    }
    return len(daemon ^ await kernel_addresses(netns))
