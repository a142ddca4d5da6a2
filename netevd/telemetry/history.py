"""The last hour, for the dashboard's plots (``GET /api/v1/history``): events per minute by
type, each monitored link's kernel-derived state over time, and the scripts' durations.

The event ring buffer keeps the last 1000 events, which a storm fills in a second; this keeps
what the plots need of the whole hour, bounded: per-minute counts of every event (61 minutes
at most), at most MAX_LINKS links with MAX_CHANGES state changes each, and the last MAX_RUNS
script runs. A link's state is read after each engine batch that touched it (a batch is about
a millisecond of events), so a state that lasted less than one batch shows in the events only.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from netevd.core.config import MonitoringConfig
from netevd.core.filters import monitored
from netevd.core.kinds import EventKind
from netevd.core.records import Record
from netevd.core.state import State
from netevd.core.views import kernel_state

WINDOW = 3600.0  # seconds the plots cover
MINUTE = 60
MAX_LINKS = 64  # links followed at once (a removed one's place is freed when it ages out)
MAX_CHANGES = 256  # state changes kept per link
MAX_RUNS = 1000  # script runs kept
GONE = "gone"  # the state of a link that was removed
EVERY_LINK = frozenset({EventKind.REPLAY, EventKind.RESYNC})  # records that may touch any link


@dataclass(frozen=True)
class ScriptRun:
    """One finished script, for the durations plot."""

    seq: int  # the event that ran it
    ts: float  # that event's time (when the run was reported, if the event left the ring)
    directory: str
    script: str
    duration: float
    exit_code: int | None
    timed_out: bool


@dataclass
class LinkLine:
    index: int
    name: str
    changes: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=MAX_CHANGES))

    @property
    def state(self) -> str:
        return self.changes[-1][1] if self.changes else ""


class History:
    def __init__(self, window: float = WINDOW, clock: Callable[[], float] = time.time) -> None:
        self.window = window
        self.clock = clock
        self.monitoring: Callable[[], MonitoringConfig] = MonitoringConfig
        self._minutes: dict[int, Counter[EventKind]] = {}
        self._links: dict[int, LinkLine] = {}
        # links seen and not followed: index -> (name, whether for want of room)
        self._skipped: dict[int, tuple[str, bool]] = {}
        self._monitoring = MonitoringConfig()
        self._runs: deque[ScriptRun] = deque(maxlen=MAX_RUNS)

    # -- what the engine and the event log tell it ------------------------------------------------

    def observe(self, state: State, records: Sequence[Record]) -> None:
        """One engine batch: its records counted, the links it touched read in *state*."""
        if not records:
            return
        self._count(records)
        monitoring = self.monitoring()
        if monitoring is not self._monitoring and monitoring != self._monitoring:
            self._monitoring = monitoring  # a reload: every link is judged again
            self._skipped.clear()
        ts = records[-1].ts
        if any(r.kind in EVERY_LINK for r in records):
            touched: Iterable[int] = sorted(set(state.links) | set(self._links))
        else:
            touched = {r.link_index for r in records if r.link_index is not None}
        for index in touched:
            self._follow(state, index, ts)

    def script(self, run: ScriptRun) -> None:
        self._runs.append(run)

    def _count(self, records: Sequence[Record]) -> None:
        first, last = int(records[0].ts // MINUTE), int(records[-1].ts // MINUTE)
        if first == last:  # a batch is a millisecond: nearly always one minute
            self._bucket(first).update(r.kind for r in records)
            return
        for record in records:
            self._bucket(int(record.ts // MINUTE))[record.kind] += 1

    def _bucket(self, minute: int) -> Counter[EventKind]:
        bucket = self._minutes.get(minute)
        if bucket is None:
            oldest = minute - int(self.window // MINUTE)
            for old in [m for m in self._minutes if m < oldest]:
                del self._minutes[old]
            bucket = self._minutes[minute] = Counter()
        return bucket

    def _follow(self, state: State, index: int, ts: float) -> None:
        link = state.links.get(index)
        line = self._links.get(index)
        if link is None:
            self._skipped.pop(index, None)
            if line is not None and line.state != GONE:
                line.changes.append((ts, GONE))
            return
        if line is None:
            skipped = self._skipped.get(index)
            if skipped is not None and skipped[0] == link.name:
                return
            line = self._track(index, link.name)
            if line is None:
                return
        line.name = link.name
        now = kernel_state(state, index)
        if now != line.state:
            line.changes.append((ts, now))

    def _track(self, index: int, name: str) -> LinkLine | None:
        """A line for a new link, or None when it is not monitored or there is no room."""
        if not monitored(name, self._monitoring):
            self._skipped[index] = (name, False)
            return None
        if len(self._links) >= MAX_LINKS and not self._free_a_place():
            self._skipped[index] = (name, True)
            return None
        self._skipped.pop(index, None)
        line = self._links[index] = LinkLine(index, name)
        return line

    def _free_a_place(self) -> bool:
        """Forget the link removed longest ago; False when every followed link is there."""
        gone = [line for line in self._links.values() if line.state == GONE]
        if not gone:
            return False
        oldest = min(gone, key=lambda line: line.changes[-1][0])
        del self._links[oldest.index]
        return True

    # -- what the API serves ------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        now = self.clock()
        start = now - self.window
        minutes = [
            {"start": minute * MINUTE, "counts": {k.value: n for k, n in sorted(counts.items())}}
            for minute, counts in sorted(self._minutes.items())
            if (minute + 1) * MINUTE > start
        ]
        links = [_line_document(line, start) for _, line in sorted(self._links.items())]
        return {
            "window_seconds": self.window,
            "now": now,
            "minutes": minutes,
            "links": [line for line in links if line["changes"]],
            "unfollowed_links": sum(1 for _, full in self._skipped.values() if full),
            "scripts": [asdict(run) for run in self._runs if run.ts >= start],
        }


def _line_document(line: LinkLine, start: float) -> dict[str, Any]:
    """A link's changes in the window, and the one before it: the state the window opens in."""
    changes = list(line.changes)
    first = 0
    while first + 1 < len(changes) and changes[first + 1][0] <= start:
        first += 1
    kept = changes[first:]
    if kept and kept[-1][1] == GONE and kept[-1][0] < start:
        kept = []  # removed before the window opened: nothing to draw
    return {
        "ifindex": line.index,
        "name": line.name,
        "changes": [{"ts": ts, "state": state} for ts, state in kept],
    }
