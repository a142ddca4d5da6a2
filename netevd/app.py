"""The composition root: builds the engine, sources and executors, and runs the process's life.

SIGTERM/SIGINT stop the sources, give running scripts ``scripts.shutdown_grace`` seconds, then
kill their process groups. SIGHUP re-reads the configuration and script directories; a bad new
configuration is logged and the old one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from netevd import __version__
from netevd.api.app import ApiServer
from netevd.api.metrics import Metrics, ScriptLatency
from netevd.api.view import LiveView, ReloadResult
from netevd.config import ConfigError, LoadResult, load_config
from netevd.core.actions import Action, AssignTables, ReconcileRouting, RunScripts
from netevd.core.config import Config
from netevd.core.events import ConfigReloaded, RunDropped, ScriptFinished, TablesAssigned
from netevd.core.routing import policy_links
from netevd.engine import Engine
from netevd.eventlog import EventLog
from netevd.executors.routing import RoutingExecutor, load_tables
from netevd.executors.scripts import ScriptExecutor, ScriptSettings
from netevd.sources.backend import resolve_backend
from netevd.sources.netlink import NetlinkSource
from netevd.sources.registry import backend_sources
from netevd.system.logging import set_level, setup_logging
from netevd.system.privileges import clear_ambient, drop_privileges
from netevd.system.sdnotify import notify

log = logging.getLogger("netevd")


def script_settings(config: Config) -> ScriptSettings:
    return ScriptSettings(
        script_dirs=config.system.script_dirs,
        timeout=config.scripts.timeout,
        max_parallel=config.scripts.max_parallel,
        routes_debounce=config.scripts.routes_debounce_ms / 1000,
        shutdown_grace=config.scripts.shutdown_grace,
        allowed_uids=frozenset({0, os.geteuid()}),  # the daemon's uid, after any drop
    )


def policy_tables(engine: Engine) -> dict[int, int]:
    """ifindex -> policy-routing table, for the API."""
    state = engine.state
    return {
        link.index: state.tables[link.name]
        for link in policy_links(state, engine.config)
        if link.name in state.tables
    }


class Daemon:
    def __init__(self, loaded: LoadResult, config_path: str | None, env: Mapping[str, str]):
        self.config = loaded.config
        self.config_path = config_path
        self.env = env
        self.metrics = Metrics()
        self.events = EventLog()
        self.stopping = asyncio.Event()
        self.started = time.time()
        self.engine = Engine(
            self.config,
            self._dispatch,
            self.metrics,
            on_ready=self._ready,
            on_reload=self._reloaded,
            events=self.events,
        )
        self.scripts = ScriptExecutor(
            script_settings(self.config),
            self._report,
            base_env=env,
            resolve=self.engine.resolve_coalesced,
        )
        self.routing = RoutingExecutor(self.engine.emit, self.metrics, self.config.system.state_dir)
        self._latency = ScriptLatency(self.metrics, self.events)
        self.metrics.bind_state(lambda: self.engine.state, lambda: self.engine.config.monitoring)
        self._reloading: asyncio.Task[ReloadResult] | None = None

    def _report(self, event: ScriptFinished | RunDropped) -> None:
        self._latency(event)
        self.engine.emit(event)

    def _dispatch(self, action: Action) -> None:
        if isinstance(action, RunScripts):
            self.scripts.submit(action)
        elif isinstance(action, ReconcileRouting | AssignTables):
            self.routing.submit(action)

    def _ready(self) -> None:
        notify("READY=1\nSTATUS=watching", self.env)

    def _reloaded(self, config: Config) -> None:
        self.config = config
        self.scripts.update(script_settings(config))
        set_level(config.system.log_level)
        log.info("config.reloaded path=%s", self.config_path or "defaults")

    async def reload(self) -> ReloadResult:
        """SIGHUP and POST /api/v1/reload: a new config replaces the old only if it loads
        without error. API settings (address, port, token) take effect at the next start."""
        try:
            loaded = await asyncio.to_thread(load_config, self.config_path, self.env)
        except ConfigError as exc:
            log.error(
                "config.rejected path=%s (keeping the running configuration):\n%s",
                self.config_path,
                exc,
            )
            return ReloadResult(False, self.config_path or "defaults", tuple(exc.errors))
        for warning in loaded.warnings:
            log.warning("config.warning %s", warning)
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
        backend = await resolve_backend(self.config.system.backend, self.env)
        self.engine.set_backend(backend)
        log.info(
            "starting version=%s backend=%s config=%s pid=%d",
            __version__,
            backend,
            self.config_path or "defaults",
            os.getpid(),
        )
        netlink = NetlinkSource(self.engine.emit, self.metrics, self.config.system.netlink_rcvbuf)
        await self._load_tables()
        engine_task = loop.create_task(self.engine.run(), name="engine")
        try:
            api = await self._start_api()
            self._drop_privileges()
        except BaseException:
            engine_task.cancel()
            raise
        sources = [loop.create_task(netlink.run(), name="netlink")]
        extra = backend_sources(backend, self.engine.emit, self.metrics, self.config, self.env)
        self.engine.require_sources(extra)
        sources += [loop.create_task(run, name=name) for name, run in extra.items()]
        await self.stopping.wait()
        log.info("stopping")
        notify("STOPPING=1", self.env)
        if api is not None:
            await api.stop()
        for task in sources:
            task.cancel()
        await asyncio.gather(*sources, return_exceptions=True)
        await self.scripts.shutdown()
        await self._routing_exit()
        engine_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await engine_task
        log.info("stopped")
        return 0

    async def _load_tables(self) -> None:
        """The tables chosen in earlier runs, so a moved table stays where it went."""
        state_dir = self.config.system.state_dir
        tables, problems = await asyncio.to_thread(load_tables, state_dir)
        for problem in problems:
            log.warning("routing.tables %s", problem)
        if tables:
            self.engine.emit(TablesAssigned(tuple(sorted(tables.items()))))

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
        view = LiveView(
            self.engine,
            self.scripts,
            self.metrics,
            self.reload,
            self.started,
            tables=lambda: policy_tables(self.engine),
        )
        api = ApiServer(view, self.config.api, metrics=self.config.metrics.enabled)
        await api.start()
        return api


def run(config_path: str | None, env: Mapping[str, str]) -> int:
    """Load the config (ConfigError propagates to the CLI) and run until SIGTERM/SIGINT."""
    loaded = load_config(config_path, env)
    setup_logging(loaded.config.system.log_level, env)
    for warning in loaded.warnings:
        log.warning("config.warning %s", warning)
    path = str(Path(config_path)) if config_path else None
    return asyncio.run(Daemon(loaded, path, env).run())
