"""What the engine records, counts and logs itself: executors' reports, and the actions that
need no executor (a rejected link, an unknown state, a note)."""

from __future__ import annotations

import logging

from netevd.api.metrics import Metrics
from netevd.core.actions import Action, Note, RejectLink, RunScripts, SkipUnknownState
from netevd.core.events import Context, RoutingApplied, RunDropped, ScriptFinished
from netevd.eventlog import EventLog, EventRecord, ScriptRecord

log = logging.getLogger("netevd.engine")
MAX_REJECTS_REMEMBERED = 4096


class Outcomes:
    def __init__(self, metrics: Metrics, events: EventLog) -> None:
        self._metrics = metrics
        self._events = events
        self._seen_rejects: set[tuple[int, str]] = set()

    def local(self, actions: list[Action]) -> list[Action]:
        """Handle the actions that need no executor; return the rest, in order."""
        rest: list[Action] = []
        for action in actions:
            if isinstance(action, RejectLink):
                self._reject(action)
            elif isinstance(action, Note):
                log.info("%s", action.message)
            elif isinstance(action, SkipUnknownState):
                self._metrics.unknown_states.labels(action.source).inc()
                log.warning(
                    "state.unknown source=%s index=%d value=%r (no directory; nothing run)",
                    action.source,
                    action.link_index,
                    action.value,
                )
            else:
                if isinstance(action, RunScripts):
                    self._metrics.state_changes.labels(action.directory).inc()
                    for name, _reason in action.dropped:
                        self._metrics.dropped_env.labels(name).inc()
                rest.append(action)
        return rest

    def _reject(self, action: RejectLink) -> None:
        self._metrics.rejected_links.inc()
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

    def script_finished(self, event: ScriptFinished) -> None:
        self._events.attach_script(
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
        self._metrics.script_runs.labels(event.directory).inc()
        self._metrics.script_duration.labels(event.directory).observe(event.duration)
        if event.timed_out:
            self._metrics.script_failures.labels(event.directory, "timeout").inc()
        elif event.exit_code is None:
            self._metrics.script_failures.labels(event.directory, "exec").inc()
        elif event.exit_code != 0:
            self._metrics.script_failures.labels(event.directory, "exit").inc()

    def run_dropped(self, event: RunDropped) -> None:
        self._metrics.superseded.inc()
        log.info(
            "script.superseded link=%s dir=%s seq=%d by=%d",
            event.link_name,
            event.directory,
            event.seq,
            event.superseded_by,
        )

    def routing_applied(self, event: RoutingApplied, ctx: Context) -> None:
        detail = {
            "added_rules": event.added_rules,
            "removed_rules": event.removed_rules,
            "added_routes": event.added_routes,
            "removed_routes": event.removed_routes,
            "readded": event.readded,
            "errors": list(event.errors),
        }
        self._events.add(EventRecord(ctx.seq, ctx.ts, "routing", "netevd", detail=detail))
