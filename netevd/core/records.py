"""What the engine records of each handled event (pure, frozen): the event log's entries.

The engine's step returns these; the shell adds them to the ring buffer the API serves, where
script outcomes are attached to them as they arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netevd.core.kinds import EventKind

NETEVD = "netevd"  # the source of records about netevd's own doings


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    ts: float  # wall-clock seconds
    kind: EventKind
    source: str  # kernel, systemd-networkd, NetworkManager, dhclient, netevd
    link_index: int | None = None
    link_name: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)
    directories: tuple[str, ...] = ()  # the script directories it fired
