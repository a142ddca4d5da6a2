"""Which sources run besides the kernel's: one per effective backend."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from netevd.api.metrics import Metrics
from netevd.core.config import Config
from netevd.core.events import Event
from netevd.sources.networkd import NAME as NETWORKD
from netevd.sources.networkd import NetworkdSource

SourceRun = Coroutine[Any, Any, None]


def backend_sources(
    backend: str,
    emit: Callable[[Event], None],
    metrics: Metrics,
    config: Config,
    env: Mapping[str, str],
) -> dict[str, SourceRun]:
    """{source name: its run() coroutine} for *backend* (none yet for ``none``)."""
    if backend == NETWORKD:
        source = NetworkdSource(
            emit, env=env, emit_json=config.backends.systemd_networkd.emit_json, metrics=metrics
        )
        return {NETWORKD: source.run()}
    return {}
