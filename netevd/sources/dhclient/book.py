"""What the dhclient lease files say, turned into lease events (pure: no I/O, no clock).

:class:`LeaseBook` holds the leases last read from every lease file and the lease each
``(interface, family)`` was last reported with. :meth:`LeaseBook.changes` compares the two at a
given time and returns the events that bring the reported picture up to date: a
:class:`LeaseChanged` only when what scripts see changed (a renewal that only moves the timers
is not a change), a :class:`LeaseLost` with its reason when a lease expired, was released, or
its file went away.

When several files speak of one interface (a stale ``dhclient.leases`` from a manual run beside
ifupdown's ``dhclient.eth0.leases``), the most recently written file is believed: it holds
dhclient's latest word, and an older file's unexpired block is history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from netevd.core.dhcp.lease import lost_reason, same_lease
from netevd.core.events import LeaseChanged, LeaseEvent, LeaseLost, LostReason
from netevd.core.model import Lease

# dhclient.leases, dhclient-eth0.leases (RHEL initscripts), dhclient.eth0.leases (Debian
# ifupdown) and the dhclient6 forms. The name part is never used: blocks name their interface.
LEASE_FILE = re.compile(r"dhclient6?(?:[.-][^/\x00]{1,15})?\.leases")

Key = tuple[str, Literal[4, 6]]


def is_lease_file(name: str) -> bool:
    return LEASE_FILE.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class FileLeases:
    """One lease file as last read: when it was written and the blocks believed, in order."""

    mtime_ns: int
    leases: tuple[Lease, ...]


@dataclass(frozen=True, slots=True)
class _Reported:
    lease: Lease
    path: str


@dataclass(slots=True)
class LeaseBook:
    files: dict[str, FileLeases] = field(default_factory=dict)
    reported: dict[Key, _Reported] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)  # files gone since the last changes()

    def put(self, path: str, content: FileLeases) -> None:
        self.files[path] = content
        self.removed.discard(path)

    def remove(self, path: str) -> None:
        if self.files.pop(path, None) is not None:
            self.removed.add(path)

    def paths(self) -> list[str]:
        return sorted(self.files)

    def newest_blocks(self) -> dict[Key, tuple[Lease, str]]:
        """Each (interface, family)'s newest block, from the most recently written file."""
        found: dict[Key, tuple[int, str, Lease]] = {}
        for path, content in self.files.items():
            last: dict[Key, Lease] = {}
            for lease in content.leases:
                last[(lease.interface, lease.family)] = lease
            for key, lease in last.items():
                rank = (content.mtime_ns, path)
                if key not in found or rank > found[key][:2]:
                    found[key] = (content.mtime_ns, path, lease)
        return {key: (lease, path) for key, (_, path, lease) in found.items()}

    def changes(self, now: float, *, replay: bool = False) -> list[LeaseEvent]:
        """The events that take what was reported to what the files say at *now*."""
        newest = self.newest_blocks()
        events: list[LeaseEvent] = []
        for key in sorted(set(newest) | set(self.reported)):
            previous = self.reported.get(key)
            block = newest.get(key)
            reason = _why_not_current(block, previous, self.removed, now)
            if reason is None and block is not None:
                lease, path = block
                if previous is None or not same_lease(previous.lease, lease):
                    before = previous.lease if previous else None
                    events.append(LeaseChanged(key[0], lease, before, replay))
                self.reported[key] = _Reported(lease, path)  # keeps the newest timers
            elif previous is not None and reason is not None:
                events.append(LeaseLost(key[0], reason, key[1], previous.lease))
                del self.reported[key]
        self.removed.clear()
        return events

    def next_expiry(self) -> int | None:
        """The earliest expiry among the leases reported as current (None: nothing expires)."""
        times = [r.lease.expire for r in self.reported.values() if r.lease.expire is not None]
        return min(times, default=None)

    def current(self) -> dict[Key, Lease]:
        return {key: reported.lease for key, reported in self.reported.items()}


def _why_not_current(
    block: tuple[Lease, str] | None,
    previous: _Reported | None,
    removed: set[str],
    now: float,
) -> LostReason | None:
    if block is not None:
        return lost_reason(block[0], now)
    if previous is not None and previous.path in removed:
        return "file-removed"
    return "no-longer-listed"
