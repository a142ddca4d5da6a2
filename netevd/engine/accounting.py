"""What the engine shell does with a step's results and the executors' reports: the event log,
the log lines and the metrics; and the actions that need no executor (a rejected link, an
unknown state, a note)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from netevd.core.actions import (
    Action,
    Note,
    PendingRun,
    RejectLink,
    RunScripts,
    SkipUnknownState,
)
from netevd.core.describe import record_line
from netevd.core.directories import Directory
from netevd.core.events import RunDropped, ScriptFinished
from netevd.core.kinds import EventKind
from netevd.core.records import Record
from netevd.core.step import Step
from netevd.telemetry.eventlog import EventLog, ScriptRecord
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.engine")
MAX_REJECTS_REMEMBERED = 4096
# A batch with more routine records than this (routes and addresses that fired nothing but
# pending runs: routes.d, address-added.d, address-removed.d) logs them at debug level and
# one summary at info: a storm of a million routes must not write a million journal lines.
# Each is still in the event log and counted.
LOG_LINES_PER_BATCH = 16
ROUTINE = frozenset(
    {
        EventKind.ROUTE_ADDED,
        EventKind.ROUTE_REMOVED,
        EventKind.ADDRESS_ADDED,
        EventKind.ADDRESS_REMOVED,
    }
)
SUMMARY_LINKS = 8  # link names a summary line lists
# the pending runs' directories a routine record may name (one run per quiet window, not per event)
ROUTINE_DIRECTORIES = frozenset(
    {Directory.ROUTES.value, Directory.ADDRESS_ADDED.value, Directory.ADDRESS_REMOVED.value}
)


class Accounting:
    def __init__(self, metrics: Metrics, events: EventLog) -> None:
        self.metrics = metrics
        self.events = events
        self._seen_rejects: set[tuple[int, str]] = set()

    def record(self, result: Step) -> None:
        """Count, log and keep what a step recorded."""
        for (type_name, source), count in Counter(result.tally).items():
            self.metrics.events.labels(type_name, source).inc(count)
        self._log_all(result.records)
        self.events.add_many(result.records)
        self.events.history.observe(result.world.state, result.records)

    def _log_all(self, records: Sequence[Record]) -> None:
        routine = [r for r in records if _routine(r)]
        if len(routine) <= LOG_LINES_PER_BATCH:
            for record in records:
                self._log(record)
            return
        debug = log.isEnabledFor(logging.DEBUG)
        for record in records:
            if not _routine(record):
                self._log(record)
            elif debug:
                log.debug("%s", record_line(record))
        log.info("%s", summary_line(routine))

    def _log(self, record: Record) -> None:
        if record.kind is EventKind.SOURCE:
            up = bool(record.detail.get("up"))
            self.metrics.source_up.labels(record.source).set(1 if up else 0)
            log.log(logging.INFO if up else logging.WARNING, "%s", record_line(record))
        else:
            log.info("%s", record_line(record))

    def local(self, actions: tuple[Action, ...]) -> list[Action]:
        """Handle the actions that need no executor; return the rest, in order."""
        rest: list[Action] = []
        for action in actions:
            if isinstance(action, RejectLink):
                self._reject(action)
            elif isinstance(action, Note):
                log.log(logging.WARNING if action.warning else logging.INFO, "%s", action.message)
            elif isinstance(action, SkipUnknownState):
                self.metrics.unknown_states.labels(action.source).inc()
                log.warning(
                    "state.unknown source=%s index=%d value=%r (no directory; nothing run)",
                    action.source,
                    action.link_index,
                    action.value,
                )
            else:
                if isinstance(action, PendingRun):
                    self.metrics.state_changes.labels(action.directory).inc()
                elif isinstance(action, RunScripts):
                    if action.tree == "netevd":  # a compat run is no state change of its own
                        self.metrics.state_changes.labels(action.directory).inc()
                    for name, _reason in action.dropped:
                        self.metrics.dropped_env.labels(name).inc()
                rest.append(action)
        return rest

    def _reject(self, action: RejectLink) -> None:
        self.metrics.rejected_links.inc()
        key = (action.index, action.name)
        if key in self._seen_rejects:
            return
        if len(self._seen_rejects) >= MAX_REJECTS_REMEMBERED:
            self._seen_rejects.clear()  # bounded memory on a host that churns hostile names
        self._seen_rejects.add(key)
        log.warning(
            "link.rejected index=%d name=%r reason=%r (no scripts run for it)",
            action.index,
            action.name,
            action.reason,
        )

    def report(self, event: ScriptFinished | RunDropped) -> None:
        """An executor's report: attached to its event, counted."""
        if isinstance(event, RunDropped):
            self.metrics.superseded.inc()
            log.info(
                "script.superseded link=%s dir=%s seq=%d by=%d",
                event.link_name,
                event.directory,
                event.seq,
                event.superseded_by,
            )
            return
        self.events.attach_script(
            event.seq,
            ScriptRecord(
                event.script,
                event.directory,
                event.exit_code,
                round(event.duration, 6),
                event.timed_out,
                event.error,
                event.output[-2048:],
            ),
        )
        self.metrics.script_state(event.directory)
        self.metrics.script_runs.labels(event.directory).inc()
        self.metrics.script_duration.labels(event.directory).observe(event.duration)
        if event.timed_out:
            self.metrics.script_failures.labels(event.directory, "timeout").inc()
        elif event.exit_code is None:
            self.metrics.script_failures.labels(event.directory, "exec").inc()
        elif event.exit_code != 0:
            self.metrics.script_failures.labels(event.directory, "exit").inc()


def _routine(record: Record) -> bool:
    return record.kind in ROUTINE and all(d in ROUTINE_DIRECTORIES for d in record.directories)


def summary_line(records: Sequence[Record]) -> str:
    """``events.batch seq=F-L route-added=N ... links=eth0,eth1``: a batch's routine records."""
    kinds = Counter(record.kind.value for record in records)
    names = sorted({r.link_name or "-" for r in records})
    listed = ",".join(names[:SUMMARY_LINKS])
    if len(names) > SUMMARY_LINKS:
        listed += f",+{len(names) - SUMMARY_LINKS}"
    counts = " ".join(f"{kind}={count}" for kind, count in sorted(kinds.items()))
    return (
        f"events.batch seq={records[0].seq}-{records[-1].seq} {counts} links={listed} "
        "(each at debug level and in the event log)"
    )
