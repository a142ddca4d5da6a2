"""The world of the API unit tests: a real Engine fed with a snapshot, the API on port 0."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from lab.http import JsonRequests
from netevd.api.app import ApiServer
from netevd.api.view import ReloadResult, Tables
from netevd.client.http import parse_sse
from netevd.core.config import ApiConfig, Config, SystemConfig
from netevd.core.directories import Directory
from netevd.core.events import KernelSnapshot, ScriptFinished, SourceStatus
from netevd.core.model import (
    AF_INET,
    AF_INET6,
    IFF_LOOPBACK,
    IFF_LOWER_UP,
    IFF_UP,
    Addr,
    Link,
    Route,
    Rule,
)
from netevd.core.scripts import ScriptVerdict
from netevd.core.state import State
from netevd.engine import Engine
from netevd.executors.scripts import ScriptExecutor, ScriptSettings
from netevd.telemetry.eventlog import EventLog
from netevd.telemetry.metrics import Metrics

UP = IFF_UP | IFF_LOWER_UP | 0x2 | 0x1000  # UP, LOWER_UP, BROADCAST, MULTICAST
HOSTILE = "x<b>y'\"&"  # a legal Linux interface name


def snapshot() -> KernelSnapshot:
    links = (
        Link(1, "lo", IFF_UP | IFF_LOWER_UP | IFF_LOOPBACK, 65536, "00:00:00:00:00:00", "UNKNOWN"),
        Link(3, "eth0", UP, 1500, "02:00:00:00:00:03", "UP", "veth"),
        Link(4, HOSTILE, IFF_UP | 0x2 | 0x1000, 1400, "02:00:00:00:00:04", "DOWN", "veth"),
    )
    addrs = (
        Addr(1, AF_INET, "127.0.0.1", 8, 254),
        Addr(3, AF_INET, "10.0.0.1", 24),
        Addr(3, AF_INET6, "2001:db8::1", 64),
        Addr(3, AF_INET6, "fe80::1", 64, 253),
    )
    routes = (
        Route(AF_INET, 254, "10.0.0.0/24", oif=3, protocol=2, scope=253, prefsrc="10.0.0.1"),
        Route(AF_INET, 254, "0.0.0.0/0", "10.0.0.254", 3, protocol=4, priority=100),
        Route(AF_INET6, 254, "2001:db8::/64", oif=3, protocol=2, priority=256),
        Route(AF_INET6, 254, "::/0", "2001:db8::fe", 3, protocol=9, priority=1024),
        Route(AF_INET, 203, "0.0.0.0/0", "10.0.0.254", 3, protocol=78),
        Route(AF_INET, 255, "10.0.0.1/32", oif=3, protocol=2, scope=254, type=2),
    )
    rules = (
        Rule(AF_INET, 0, 255),
        Rule(AF_INET, 1000, 203, src="10.0.0.1/32", protocol=78),
        Rule(AF_INET, 32766, 254),
        Rule(AF_INET6, 32766, 254),
    )
    return KernelSnapshot(links, addrs, routes, rules)


@dataclass
class WorldView:
    """The API's DaemonView over a real Engine and ScriptExecutor (the daemon's own LiveView
    needs a whole Daemon; this is the same reading, minus the process)."""

    engine: Engine
    executor: ScriptExecutor
    metrics: Metrics
    reloader: Callable[[], Awaitable[ReloadResult]]
    started: float = field(default_factory=time.time)
    problems: dict[str, str] = field(default_factory=dict)  # what degraded() reports

    @property
    def state(self) -> State:
        return self.engine.state

    @property
    def ready(self) -> bool:
        return self.engine.ready

    @property
    def events(self) -> EventLog:
        return self.engine.events

    @property
    def config(self) -> Config:
        return self.engine.config

    def script_counts(self) -> tuple[int, int]:
        stats = self.executor.stats
        return stats.scripts_started, stats.failures

    def routing_tables(self) -> Tables:
        return {}

    def routing_conflicts(self) -> tuple[str, ...]:
        return ()

    def degraded(self) -> dict[str, str]:
        return dict(self.problems)

    async def scan_scripts(self) -> list[ScriptVerdict]:
        return await asyncio.to_thread(self.executor.scan, [d.value for d in Directory])

    async def reload(self) -> ReloadResult:
        return await self.reloader()


@dataclass
class Api(JsonRequests):
    engine: Engine
    server: ApiServer
    session: aiohttp.ClientSession
    scripts: Path
    reloads: list[ReloadResult] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)  # the view's degraded checks

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def finished(self, seq: int, directory: str = "routable", code: int = 0) -> None:
        self.engine.handle(
            ScriptFinished(
                seq, directory, 3, "eth0", f"/s/{directory}.d/50-x", code, 0.01, False, "", "hi\n"
            )
        )


ApiFactory = Callable[..., Awaitable[Api]]


async def api_factory(tmp_path: Path) -> AsyncIterator[ApiFactory]:
    made: list[tuple[ApiServer, aiohttp.ClientSession]] = []

    async def factory(
        *,
        api: ApiConfig | None = None,
        ready: bool = True,
        reload: ReloadResult | None = None,
        metrics: bool = True,
        heartbeat: float = 15.0,
        config: Config | None = None,
    ) -> Api:
        root = tmp_path / "scripts"
        root.mkdir(exist_ok=True)
        root.chmod(0o755)
        config = config or Config(system=SystemConfig(script_dirs=(str(root),)))
        registry = Metrics()
        engine = Engine(config, lambda action: None, registry)
        engine.handle(snapshot())
        if ready:
            engine.handle(SourceStatus("netlink", True))
        executor = ScriptExecutor(
            ScriptSettings(
                config.system.script_dirs,
                compat_dirs=config.compat.trees(),
                allowed_uids=frozenset({os.geteuid()}),
            ),
            engine.emit,
        )
        reloads: list[ReloadResult] = []

        async def reloader() -> ReloadResult:
            result = reload or ReloadResult(True, "/etc/netevd/netevd.yaml")
            reloads.append(result)
            return result

        problems: dict[str, str] = {}
        view = WorldView(engine, executor, registry, reloader, problems=problems)
        registry.bind_state(lambda: engine.state, lambda: engine.config.monitoring)
        server = ApiServer(view, api or ApiConfig(), metrics=metrics, port=0, heartbeat=heartbeat)
        await server.start()
        session = aiohttp.ClientSession()
        made.append((server, session))
        return Api(engine, server, session, root, reloads, problems)

    yield factory
    for server, session in made:
        await session.close()
        await server.stop()


async def read_messages(response: aiohttp.ClientResponse, count: int) -> list[tuple[str, Any]]:
    """The next *count* SSE messages as (event name, data); comments are skipped."""
    found: list[tuple[str, Any]] = []
    async for kind, _ident, data in parse_sse(response.content):
        found.append((kind, data))
        if len(found) == count:
            break
    return found
