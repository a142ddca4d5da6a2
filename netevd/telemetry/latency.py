"""The event-to-script latency histogram, fed by the executors' reports."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from netevd.core.events import RunDropped, ScriptFinished
from netevd.telemetry.eventlog import EventLog
from netevd.telemetry.metrics import Metrics

LATENCY_KEYS = 4096  # (event, directory) pairs remembered to time only each run's first script


class ScriptLatency:
    """Times each run from its event to the start of its first script.

    Fed the executor's reports on their way to the engine: a ScriptFinished says how long the
    script ran, so now minus that is when it started; the event's time is in the ring buffer.
    """

    def __init__(
        self, metrics: Metrics, events: EventLog, clock: Callable[[], float] = time.time
    ) -> None:
        self._metrics = metrics
        self._events = events
        self._clock = clock
        self._seen: OrderedDict[tuple[int, str], None] = OrderedDict()

    def __call__(self, report: ScriptFinished | RunDropped) -> None:
        if not isinstance(report, ScriptFinished):
            return
        key = (report.seq, report.directory)
        if key in self._seen:
            return  # later scripts of a run wait for the earlier ones: not latency
        self._seen[key] = None
        if len(self._seen) > LATENCY_KEYS:
            self._seen.popitem(last=False)
        record = self._events.get(report.seq)
        if record is None:
            return
        started = self._clock() - report.duration
        self._metrics.latency.labels(report.directory).observe(max(0.0, started - record.ts))
