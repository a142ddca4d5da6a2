"""Which sources run besides the kernel's: one per effective backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from netevd.core.config import Config
from netevd.core.events import DHCLIENT, NETWORKD, NETWORKMANAGER, Event
from netevd.telemetry.metrics import Metrics

SourceRun = Callable[[], Awaitable[None]]  # a fresh run each call, so a source can be restarted


def backend_sources(
    backend: str,
    emit: Callable[[Event], None],
    metrics: Metrics,
    config: Config,
    env: Mapping[str, str],
) -> dict[str, SourceRun]:
    """{source name: its run} for *backend* (none for ``none``).

    Each source is imported only for its backend: dbus-fast and watchfiles cost a kernel-only
    daemon tens of milliseconds and megabytes it would never use."""
    if backend == NETWORKD:
        from netevd.sources.networkd.source import NetworkdSource

        source = NetworkdSource(
            emit, env=env, emit_json=config.backends.systemd_networkd.emit_json, metrics=metrics
        )
        return {NETWORKD: source.run}
    if backend == NETWORKMANAGER:
        from netevd.sources.networkmanager.source import NetworkManagerSource

        nm = NetworkManagerSource(emit, env=env, metrics=metrics)
        return {NETWORKMANAGER: nm.run}
    if backend == DHCLIENT:
        from netevd.sources.dhclient.source import DhclientSource

        paths = config.backends.dhclient.lease_paths
        leases = DhclientSource(emit, directories=paths, metrics=metrics)
        return {DHCLIENT: leases.run}
    return {}
