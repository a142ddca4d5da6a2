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
from collections.abc import Mapping
from pathlib import Path

from netevd import __version__
from netevd.api.metrics import Metrics
from netevd.config import ConfigError, LoadResult, load_config
from netevd.core.actions import Action, RunScripts
from netevd.core.config import Config
from netevd.core.events import ConfigReloaded
from netevd.engine import Engine
from netevd.eventlog import EventLog
from netevd.executors.scripts import ScriptExecutor, ScriptSettings
from netevd.sources.backend import resolve_backend
from netevd.sources.netlink import NetlinkSource
from netevd.sources.registry import backend_sources
from netevd.system.logging import set_level, setup_logging
from netevd.system.sdnotify import notify

log = logging.getLogger("netevd")


def script_settings(config: Config) -> ScriptSettings:
    return ScriptSettings(
        script_dirs=config.system.script_dirs,
        timeout=config.scripts.timeout,
        max_parallel=config.scripts.max_parallel,
        routes_debounce=config.scripts.routes_debounce_ms / 1000,
        shutdown_grace=config.scripts.shutdown_grace,
        allowed_uids=frozenset({0, os.geteuid()}),
    )


class Daemon:
    def __init__(self, loaded: LoadResult, config_path: str | None, env: Mapping[str, str]):
        self.config = loaded.config
        self.config_path = config_path
        self.env = env
        self.metrics = Metrics()
        self.events = EventLog()
        self.stopping = asyncio.Event()
        self.engine = Engine(
            self.config,
            self._dispatch,
            self.metrics,
            on_ready=self._ready,
            on_reload=self._reloaded,
            events=self.events,
        )
        self.scripts = ScriptExecutor(script_settings(self.config), self.engine.emit, base_env=env)
        self._reloading: asyncio.Task[None] | None = None

    def _dispatch(self, action: Action) -> None:
        if isinstance(action, RunScripts):
            for name, reason in action.dropped:
                log.warning("env.dropped link=%s var=%s reason=%r", action.link_name, name, reason)
            self.scripts.submit(action)

    def _ready(self) -> None:
        notify("READY=1\nSTATUS=watching", self.env)

    def _reloaded(self, config: Config) -> None:
        self.config = config
        self.scripts.update(script_settings(config))
        set_level(config.system.log_level)
        log.info("config.reloaded path=%s", self.config_path or "defaults")

    async def reload(self) -> None:
        """SIGHUP: a new config replaces the old only if it loads without error."""
        try:
            loaded = await asyncio.to_thread(load_config, self.config_path, self.env)
        except ConfigError as exc:
            log.error(
                "config.rejected path=%s (keeping the running configuration):\n%s",
                self.config_path,
                exc,
            )
            return
        for warning in loaded.warnings:
            log.warning("config.warning %s", warning)
        self.engine.emit(ConfigReloaded(loaded.config))

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
        engine_task = loop.create_task(self.engine.run(), name="engine")
        sources = [loop.create_task(netlink.run(), name="netlink")]
        extra = backend_sources(backend, self.engine.emit, self.metrics, self.config, self.env)
        self.engine.require_sources(extra)
        sources += [loop.create_task(run, name=name) for name, run in extra.items()]
        await self.stopping.wait()
        log.info("stopping")
        notify("STOPPING=1", self.env)
        for task in sources:
            task.cancel()
        await asyncio.gather(*sources, return_exceptions=True)
        await self.scripts.shutdown()
        engine_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await engine_task
        log.info("stopped")
        return 0


def run(config_path: str | None, env: Mapping[str, str]) -> int:
    """Load the config (ConfigError propagates to the CLI) and run until SIGTERM/SIGINT."""
    loaded = load_config(config_path, env)
    setup_logging(loaded.config.system.log_level, env)
    for warning in loaded.warnings:
        log.warning("config.warning %s", warning)
    path = str(Path(config_path)) if config_path else None
    return asyncio.run(Daemon(loaded, path, env).run())
