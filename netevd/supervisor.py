"""Supervision: every long-lived task of the daemon under one roof, none left unwatched.

Sources run under restart supervision. A source never returns on its own and handles the
failures it expects (an overrun, a lost bus) itself; one that raises anything else, or returns,
is restarted with exponential backoff, counted (netevd_source_restarts_total), logged with its
traceback and reported down (so /health answers 503 naming it) until it is up again. A source
that keeps failing quickly, ``max_failures`` times in a row, is given up: the supervisor calls
``on_fatal`` and the daemon stops with a non-zero exit so the service manager (Restart=) acts.
Never a READY daemon with a dead source.

Every other task (the engine, executors' workers) is spawned here too, so each holds a strong
reference, none outlives the daemon, and an unexpected end of a critical one is fatal as well.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from netevd.core.events import Event, SourceStatus
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.supervisor")

SourceRun = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 0.25  # seconds before the first restart; doubled for each next one
    max_delay: float = 8.0
    max_failures: int = 5  # quick failures in a row after which the source is given up
    healthy_after: float = 30.0  # a run that lasted this long starts the count afresh


class Supervisor:
    def __init__(
        self,
        report: Callable[[Event], None],
        metrics: Metrics,
        *,
        on_fatal: Callable[[], None],
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._metrics = metrics
        self._on_fatal = on_fatal
        self._policy = policy or RestartPolicy()
        self._clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sources: set[asyncio.Task[Any]] = set()
        self.failed: str | None = None  # why the daemon must stop, once it must

    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str, *, critical: bool = False
    ) -> asyncio.Task[Any]:
        """Run *coro* as a task held here; a critical one that ends is fatal."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._ended(done, critical))
        return task

    def start_source(self, name: str, run: SourceRun) -> None:
        # The source's restart series exists from its start, at 0, so increase() in an alert
        # sees the first restart like the later ones (a series born at 1 shows no increase).
        self._metrics.source_restarts.labels(name)
        self._sources.add(self.spawn(self._supervise(name, run), f"source-{name}"))

    def _ended(self, task: asyncio.Task[Any], critical: bool) -> None:
        self._tasks.discard(task)
        self._sources.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("task.failed name=%s error=%r", task.get_name(), str(error), exc_info=error)
        if critical:
            self._fatal(f"{task.get_name()} ended unexpectedly: {error!r}")

    def _fatal(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            log.critical("supervisor.fatal %s (stopping; exit code 1)", reason)
            self._on_fatal()

    async def _supervise(self, name: str, run: SourceRun) -> None:
        failures = 0
        while True:
            started = self._clock()
            reason = await _attempt(name, run)
            if self._clock() - started >= self._policy.healthy_after:
                failures = 0
            failures += 1
            if failures > self._policy.max_failures:
                detail = f"gave up after {failures} failures in a row: {reason}"
                self._report(SourceStatus(name, False, detail))
                self._fatal(f"source {name} {detail}")
                return
            delay = min(self._policy.first_delay * 2 ** (failures - 1), self._policy.max_delay)
            self._report(SourceStatus(name, False, f"crashed: {reason}; restart in {delay:.2f}s"))
            await asyncio.sleep(delay)  # backoff before the restart, not a poll
            self._metrics.source_restarts.labels(name).inc()
            log.warning("source.restart source=%s attempt=%d", name, failures)

    async def stop_sources(self) -> None:
        await _cancel(set(self._sources))

    async def stop(self) -> None:
        """Cancel whatever still runs and wait for it."""
        await _cancel(set(self._tasks))


async def _attempt(name: str, run: SourceRun) -> str:
    """Run the source once; why it ended (it never ends on its own when healthy)."""
    try:
        await run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("source.crashed source=%s error=%r", name, str(exc), exc_info=exc)
        return f"{type(exc).__name__}: {exc}"
    log.error("source.returned source=%s (a source must never return)", name)
    return "returned"


async def _cancel(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
