"""Which manager backend runs: the configured one, or for ``auto`` whoever owns its bus name."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from netevd.core.events import BUS_NAMES, DHCLIENT, NETWORKD, NETWORKMANAGER

log = logging.getLogger("netevd.backend")

PROBED = (NETWORKD, NETWORKMANAGER)  # ``auto``'s order
PROBE_TIMEOUT = 2.0


async def _probe(env: Mapping[str, str]) -> str:
    # dbus-fast only here: a configured backend other than auto never pays for it.
    from netevd.bus.connection import connect, name_has_owner

    bus = await connect(env, None)  # the caller bounds the whole probe
    try:
        for backend in PROBED:
            if await name_has_owner(bus, BUS_NAMES[backend]):
                return backend
    finally:
        bus.disconnect()
    return "none"


# Backends with a source in this release; the others are accepted in the configuration (the
# earlier releases' files name them) and run kernel-only until their source lands.
IMPLEMENTED = (NETWORKD, NETWORKMANAGER, DHCLIENT, "none")


async def resolve_backend(configured: str, env: Mapping[str, str]) -> str:
    """``auto`` → networkd if its bus name has an owner, else NetworkManager, else ``none``;
    a backend without a source yet runs kernel-only, said once in the log."""
    chosen = configured
    if configured == "auto":
        try:
            chosen = await asyncio.wait_for(_probe(env), PROBE_TIMEOUT)
        except Exception as exc:  # no reachable bus (or a broken one) means: no manager
            log.info(
                "backend.auto no system bus (%s); running kernel-only", exc or type(exc).__name__
            )
            return "none"
        log.info(
            "backend.auto chose %s (%s)",
            chosen,
            "no network manager on the system bus"
            if chosen == "none"
            else "its bus name has an owner",
        )
    if chosen not in IMPLEMENTED:
        log.warning(
            "backend.unavailable backend=%s (no source for it in this release; running "
            "kernel-only: carrier, degraded, routable and routes from the kernel)",
            chosen,
        )
        return "none"
    return chosen
