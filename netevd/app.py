"""The composition root: builds the engine, sources, executors and the API's view, and runs the
process's life under one supervisor.

SIGTERM/SIGINT stop the sources, give running scripts ``scripts.shutdown_grace`` seconds, then
kill their process groups. SIGHUP re-reads the configuration and script directories; a bad new
configuration is logged and the old one kept. A source that cannot come back stops the daemon
with exit code 1.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from netevd import __version__
from netevd.api.view import ReloadResult, Tables
from netevd.config import ConfigError, LoadResult, load_config
from netevd.core.actions import (
    Action,
    AssignTables,
    ConfigApplied,
    ManageNeighbours,
    PendingRun,
    PushHostname,
    PushLinkDns,
    Ready,
    ReconcileRouting,
    RevertLinkDns,
    RunScripts,
)
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.events import (
    DHCLIENT,
    NETLINK,
    ConfigReloaded,
    Event,
    ScriptFinished,
    TablesAssigned,
)
from netevd.core.follow import route_follow
from netevd.core.routing import policy_links
from netevd.core.scripts import ScriptVerdict
from netevd.core.state import State
from netevd.engine import Engine
from netevd.executors.routing import RoutingExecutor
from netevd.executors.scripts import ScriptExecutor, ScriptSettings
from netevd.executors.state_file import load_tables
from netevd.faults import FAULT_ENV, wrap_sources
from netevd.sources.backend import resolve_backend
from netevd.sources.netlink import NetlinkSource
from netevd.sources.registry import SourceRun, backend_sources
from netevd.supervisor import Supervisor
from netevd.system.logging import set_level, setup_logging
from netevd.system.privileges import (
    clear_ambient,
    drop_privileges,
    no_new_privileges,
    raise_nofile,
)
from netevd.system.reaper import Reaper, become_subreaper
from netevd.system.sdnotify import notify
from netevd.telemetry.eventlog import EventLog
from netevd.telemetry.latency import ScriptLatency
from netevd.telemetry.metrics import Metrics

if TYPE_CHECKING:  # imported where the configuration asks for them (see Daemon)
    from netevd.api.app import ApiServer
    from netevd.executors.names import NameServices
    from netevd.executors.neighbours import NeighbourExecutor

log = logging.getLogger("netevd")

EXIT_OK = 0
EXIT_FAILED = 1
DIRECTORIES = tuple(d.value for d in Directory)  # netevd's own <state>.d, all of them
SWITCH_INTERVAL = 0.0005  # seconds a thread waits for the GIL at most (Python's default: 0.005)


def script_settings(config: Config) -> ScriptSettings:
    return ScriptSettings(
        script_dirs=config.system.script_dirs,
        compat_dirs=config.compat.trees(),
        stdin_json=config.scripts.stdin_json,
        timeout=config.scripts.timeout,
        max_parallel=config.scripts.max_parallel,
        quiet_window=config.scripts.routes_debounce_ms / 1000,
        shutdown_grace=config.scripts.shutdown_grace,
        allowed_uids=frozenset({0, os.geteuid()}),  # the daemon's uid, after any drop
    )


@dataclass
class LiveView:
    """The API's DaemonView of this daemon (netevd.api.view): reads, a reload, a scan."""

    daemon: Daemon
    started: float = field(default_factory=time.time)

    @property
    def state(self) -> State:
        return self.daemon.engine.state

    @property
    def ready(self) -> bool:
        return self.daemon.engine.ready

    @property
    def events(self) -> EventLog:
        return self.daemon.events

    @property
    def metrics(self) -> Metrics:
        return self.daemon.metrics

    @property
    def config(self) -> Config:
        return self.daemon.engine.config

    def script_counts(self) -> tuple[int, int]:
        stats = self.daemon.scripts.stats
        return stats.scripts_started, stats.failures

    def routing_tables(self) -> Tables:
        """ifindex -> policy-routing table."""
        state, config = self.state, self.config
        return {
            link.index: state.tables[link.name]
            for link in policy_links(state, config)
            if link.name in state.tables
        }

    def routing_conflicts(self) -> tuple[str, ...]:
        return self.daemon.routing.conflicts

    def degraded(self) -> dict[str, str]:
        """What is wrong without stopping the daemon's work (/health's degraded checks)."""
        found = {}
        if problem := self.daemon.routing.tables_file.problem:
            found["state_dir"] = problem
        if self.daemon.reload_failed:
            found["reload"] = self.daemon.reload_failed
        return found

    async def scan_scripts(self) -> list[ScriptVerdict]:
        # Stats every script file: off the event loop.
        return await asyncio.to_thread(self.daemon.scripts.scan, DIRECTORIES)

    async def reload(self) -> ReloadResult:
        return await self.daemon.reload()


class Daemon:
    def __init__(self, loaded: LoadResult, config_path: str | None, env: Mapping[str, str]):
        self.source = loaded.source  # the file read, or "defaults"
        self.config_path = config_path
        self.env = env
        # metrics.enabled: false never loads prometheus_client; like the API's settings it
        # takes effect at the next start.
        self.metrics = Metrics(enabled=loaded.config.metrics.enabled)
        self.events = EventLog()
        self.stopping = asyncio.Event()
        self.supervisor = Supervisor(self._emit, self.metrics, on_fatal=self.stopping.set)
        self.engine = Engine(loaded.config, self._dispatch, self.metrics, events=self.events)
        self.reaper = Reaper()
        self.scripts = ScriptExecutor(
            script_settings(loaded.config),
            self._report,
            base_env=env,
            spawn=self.supervisor.spawn,
            reaper=self.reaper,
        )
        self._names: NameServices | None = None  # made at the first push (dhclient's use_*)
        self._neighbours: NeighbourExecutor | None = None  # monitoring.gateway_liveness
        self.routing = RoutingExecutor(
            self._emit, self.metrics, loaded.config.system.state_dir, spawn=self.supervisor.spawn
        )
        self._latency = ScriptLatency(self.metrics, self.events)
        self.metrics.bind_state(lambda: self.engine.state, lambda: self.engine.config.monitoring)
        self.metrics.bind_routing(lambda: len(self.routing.conflicts))
        self.metrics.bind_process(lambda: self.events.held, lambda: self.events.output_bytes)
        self.events.history.monitoring = lambda: self.engine.config.monitoring
        self._reloading: asyncio.Task[ReloadResult] | None = None
        self.reload_failed = ""  # why the last reload was refused; "" once one succeeds

    @property
    def config(self) -> Config:
        """The configuration in force: the engine's, the only copy."""
        return self.engine.config

    def names(self) -> NameServices:
        """The name-service executor, made (and dbus-fast imported) when first needed."""
        if self._names is None:
            from netevd.executors.names import NameServices

            self._names = NameServices(
                self._emit, env=self.env, metrics=self.metrics, spawn=self.supervisor.spawn
            )
        return self._names

    def _emit(self, event: Event) -> None:
        self.engine.emit(event)

    def _report(self, event: Event) -> None:
        if isinstance(event, ScriptFinished):
            self._latency(event)
        self.engine.emit(event)

    def _dispatch(self, action: Action) -> None:
        if isinstance(action, RunScripts | PendingRun):
            self.scripts.submit(action)
        elif isinstance(action, ReconcileRouting | AssignTables):
            self.routing.submit(action)
        elif isinstance(action, ManageNeighbours) and self._neighbours is not None:
            self._neighbours.submit(action)  # made at start with monitoring.gateway_liveness
        elif isinstance(action, Ready):
            log.info("ready sources=%s", ",".join(action.sources))
            notify("READY=1\nSTATUS=watching", self.env)
        elif isinstance(action, PushLinkDns | RevertLinkDns | PushHostname):
            self.names().submit(action)
        elif isinstance(action, ConfigApplied):
            self.scripts.update(script_settings(action.config))
            set_level(action.config.system.log_level)
            log.info("config.reloaded path=%s", self.source)

    async def reload(self) -> ReloadResult:
        """SIGHUP and POST /api/v1/reload: a new config replaces the old only if it loads
        without error. API settings (address, port, token) take effect at the next start."""
        try:
            loaded = await asyncio.to_thread(load_config, self.config_path, self.env)
        except ConfigError as exc:
            log.error(
                "config.rejected path=%s (keeping the running configuration):\n%s",
                self.config_path or self.source,
                exc,
            )
            self.reload_failed = "last reload refused (running configuration kept): " + (
                "; ".join(exc.errors) or str(exc)
            )
            return ReloadResult(False, self.config_path or self.source, tuple(exc.errors))
        for warning in loaded.warnings:
            log.warning("config.warning %s", warning)
        self.source = loaded.source
        self.reload_failed = ""
        self.engine.emit(ConfigReloaded(loaded.config))
        return ReloadResult(True, loaded.source, (), loaded.warnings)

    def _on_sighup(self) -> None:
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_running_loop().create_task(self.reload())

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        self._harden()
        backend = await resolve_backend(self.config.system.backend, self.env)
        self.engine.set_backend(backend)
        log.info(
            "starting version=%s backend=%s config=%s pid=%d",
            __version__,
            backend,
            self.source,
            os.getpid(),
        )
        sources = self._sources(backend)
        await self._load_tables()
        # Before the first dump: the replay builds no run for a directory that holds nothing.
        self.engine.set_unscripted(await asyncio.to_thread(self.scripts.unscripted, DIRECTORIES))
        self.supervisor.spawn(self.engine.run(), "engine", critical=True)
        try:
            api = await self._start_api()
            self._preload(backend)
            self._drop_privileges()
        except BaseException:
            await self.supervisor.stop()
            raise
        for name, run in sources.items():
            self.supervisor.start_source(name, run)
        await self.stopping.wait()
        await self._stop(api)
        return EXIT_FAILED if self.supervisor.failed else EXIT_OK

    def _harden(self) -> None:
        """Process-wide protections (docs/security.md), before anything is started."""
        soft, hard = raise_nofile()
        no_new_privileges()
        subreaper = become_subreaper()
        log.info("limits nofile=%d/%d subreaper=%s no_new_privs=1", soft, hard, subreaper)

    def _sources(self, backend: str) -> dict[str, SourceRun]:
        """Every source this backend needs, the kernel's first (wrapped by a test fault)."""
        netlink = NetlinkSource(
            self._emit,
            self.metrics,
            self.config.system.netlink_rcvbuf,
            route_follow(self.config),  # monitoring.routes: fixed until the next start
            room=self.engine.room,
            neighbours=self.config.monitoring.gateway_liveness,  # both read at start
            listed=self.config.monitoring.neighbors,
        )
        extra = backend_sources(backend, self._emit, self.metrics, self.config, self.env)
        self.engine.require_sources(extra)
        sources, faulty = wrap_sources({NETLINK: netlink.run, **extra}, self.env)
        if faulty is not None:
            log.warning("test.fault armed %s=%s", FAULT_ENV, self.env.get(FAULT_ENV))
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, faulty.trigger)
        return sources

    async def _stop(self, api: ApiServer | None) -> None:
        log.info("stopping")
        notify("STOPPING=1", self.env)
        if api is not None:
            await api.stop()
        await self.supervisor.stop_sources()
        await self.scripts.shutdown()
        await self._routing_exit()
        if self._neighbours is not None:
            await self._neighbours.stop(self.config.monitoring.gateway_liveness_cleanup)
        if self._names is not None:
            await self._names.close()
        await self.supervisor.stop()
        log.info("stopped")

    async def _load_tables(self) -> None:
        """The tables chosen in earlier runs, so a moved table stays where it went."""
        state_dir = self.config.system.state_dir
        tables, problems = await asyncio.to_thread(load_tables, state_dir)
        for problem in problems:
            log.warning("routing.tables %s", problem)
        if tables:
            self.engine.emit(TablesAssigned(tuple(sorted(tables.items()))))

    def _preload(self, backend: str) -> None:
        """Import what this configuration uses later while every file is still readable:
        pyroute2 for policy routing's writes, dbus-fast for the name services. After the drop
        the daemon's user may not read the interpreter's tree (a venv under /root); a reload
        that turns one of them on imports it then, and says so in the log if it cannot."""
        if self.config.routing.policy_rules:
            importlib.import_module("netevd.executors.route_writes")
        if self.config.monitoring.gateway_liveness:
            from netevd.executors.neighbours import NeighbourExecutor

            importlib.import_module("netevd.executors.neigh_writes")
            self._neighbours = NeighbourExecutor(spawn=self.supervisor.spawn)
        dhcp = self.config.backends.dhclient
        if backend == DHCLIENT and (dhcp.use_dns or dhcp.use_domain or dhcp.use_hostname):
            self.names()

    def _drop_privileges(self) -> None:
        clear_ambient()
        dropped = drop_privileges(self.config.system.user, self.config.system.state_dir)
        if dropped is not None:
            self.scripts.update(script_settings(self.config))

    async def _routing_exit(self) -> None:
        await self.routing.idle()
        if self.config.routing.cleanup_on_exit:
            log.info("routing.cleanup removing every rule and route netevd installed")
            await self.routing.cleanup()

    async def _start_api(self) -> ApiServer | None:
        """The API reads the engine's published state; RuntimeFailure if it cannot listen."""
        if not self.config.api.enabled:
            return None
        # aiohttp (and through it ssl) is a fifth of the start and a third of the memory:
        # imported only when the API is on.
        from netevd.api.app import ApiServer
        from netevd.api.connections import AcceptErrors

        asyncio.get_running_loop().set_exception_handler(AcceptErrors())
        api = ApiServer(LiveView(self), self.config.api, metrics=self.config.metrics.enabled)
        await api.start()
        return api


def run(config_path: str | None, env: Mapping[str, str]) -> int:
    """Load the config (ConfigError propagates to the CLI) and run until SIGTERM/SIGINT."""
    loaded = load_config(config_path, env)
    setup_logging(loaded.config.system.log_level, env)
    # Executors do their file-system work in threads (script discovery, large values). While
    # the engine works through a storm, each of their system calls waits for the GIL, by
    # default up to 5 ms; 0.5 ms keeps a script's start within tens of milliseconds.
    sys.setswitchinterval(SWITCH_INTERVAL)
    for warning in loaded.warnings:
        log.warning("config.warning %s", warning)
    path = str(Path(config_path)) if config_path else None
    return asyncio.run(Daemon(loaded, path, env).run())
