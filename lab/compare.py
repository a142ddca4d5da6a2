"""What ``ip -j`` shows, in the terms netevd's API uses: for the tests and benchmarks that hold
the daemon's picture against the kernel's (the lab reads the kernel as a user would, with
``ip``, never with netevd's own reader)."""

from __future__ import annotations

from typing import Any

from lab.net.build import ip_json

TABLES = {"main": 254, "local": 255, "default": 253}  # ip's names for the reserved tables
FAMILIES = (("-4", "inet"), ("-6", "inet6"))


def table_number(table: str | int) -> int:
    """A routing table as ip names it (``main``, ``local``, ``default`` or a number)."""
    return TABLES.get(str(table)) or int(table)


def prefix(dst: str, family: str, length: int | None = None) -> str:
    """*dst* as ip shows it (``default``, ``all``, a bare address, a prefix) as a prefix of
    *family* (``inet`` or ``inet6``); *length* for a bare address, else a host's."""
    if dst == "default" or dst == "all":
        return "0.0.0.0/0" if family == "inet" else "::/0"
    if "/" in dst:
        return dst
    bits = length if length is not None else (32 if family == "inet" else 128)
    return f"{dst}/{bits}"


async def kernel_routes(netns: str, timeout: float = 30.0) -> list[tuple[str, dict[str, Any]]]:
    """Every route of every table in *netns*, both families: (family, ip's entry) pairs."""
    found: list[tuple[str, dict[str, Any]]] = []
    for option, family in FAMILIES:
        shown = await ip_json(netns, option, "route", "show", "table", "all", timeout=timeout)
        found += [(family, entry) for entry in shown]
    return found
