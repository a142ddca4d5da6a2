"""The dhclient source: ISC dhclient's lease files, watched with inotify (watchfiles).

Subscribe, then snapshot, then stream. The lease *directories* are watched, never the files:
dhclient rewrites a file by truncating it in place and, on some systems, by replacing it, and a
watch on the file itself would be lost with the inode. The watch is set up first (watchfiles'
``RustNotify`` collects events from the moment it exists); then every lease file is read (the
startup snapshot, emitted as ``LeaseChanged(replay=True)``); then each batch of changes is read
and turned into events by :class:`~netevd.sources.dhclient.book.LeaseBook`. A dedicated thread
waits for inotify batches, so the event loop never blocks; files are read and parsed in worker
threads, each refused above ``max_file_size`` without being read whole.

A configured directory that does not exist is reported once and watched for: its nearest
existing parent is watched (not recursively) and the plan is made again when it appears (or
when a watched directory goes). A file that cannot be believed (too large, not a regular file,
unreadable, cut off mid-write) changes nothing and is counted; its problems are logged. Expiry
is a loop timer at the earliest expire time of the leases reported current, never a poll. A
watcher failure is reported (``SourceStatus(up=False)``) and retried with exponential backoff;
the source never returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from watchfiles._rust_notify import RustNotify

from netevd.core.dhcp.syntax import Problem
from netevd.core.events import DHCLIENT, Event, LeaseChanged, LeaseEvent, LeaseLost, SourceStatus
from netevd.core.model import Lease
from netevd.sources.dhclient.book import FileLeases, Key, LeaseBook, is_lease_file
from netevd.sources.dhclient.files import (
    MAX_FILE_SIZE,
    Refused,
    WatchPlan,
    list_lease_files,
    load_all,
    make_plan,
)
from netevd.sources.dhclient.metrics import LeaseMetrics, lease_metrics
from netevd.system.logfmt import repeat_level
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.dhclient")

NAME = DHCLIENT
DIRECTORIES = ("/var/lib/dhcp", "/var/lib/dhclient")  # Debian, RHEL
DEBOUNCE_MS = 1600  # watchfiles: the longest a burst of changes is gathered into one batch
STEP_MS = 50  # watchfiles: a batch is handed over after this long without a new change
MAX_TIMER = 3600.0  # seconds: re-check at least hourly, in case the wall clock jumped
BACKOFF_MIN = 0.25
BACKOFF_MAX = 30.0

LeaseHandler = Callable[[LeaseEvent], None]


class DhclientSource:
    def __init__(
        self,
        emit: Callable[[Event | LeaseEvent], None],
        *,
        directories: Sequence[str] = DIRECTORIES,
        max_file_size: int = MAX_FILE_SIZE,
        backoff_max: float = BACKOFF_MAX,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._emit = emit
        self._directories = tuple(os.path.normpath(d) for d in directories)
        self._max_size = max_file_size
        self._backoff_max = backoff_max
        self._clock = clock
        self._metrics: LeaseMetrics | None = lease_metrics(metrics) if metrics else None
        self._reconnects = metrics.source_reconnects.labels(NAME) if metrics else None
        self._book = LeaseBook()
        self._timer: asyncio.TimerHandle | None = None
        self._up: bool | None = None
        self._announced_missing: set[str] = set()
        # files.read, refused.<reason>, problems.<kind>, restarts; mirrored into the metrics
        self.counts: Counter[str] = Counter()

    @property
    def current(self) -> dict[Key, Lease]:
        """The lease reported current per (interface, family), for status and tests."""
        return self._book.current()

    @property
    def files(self) -> dict[str, FileLeases]:
        """Every lease file as last read and believed: path -> (mtime, blocks)."""
        return dict(self._book.files)

    async def run(self) -> None:
        backoff = BACKOFF_MIN
        try:
            while True:
                try:
                    await self._watch()  # returns when the directories changed: plan again
                    backoff = BACKOFF_MIN
                    continue
                except Exception as exc:
                    self._down(f"lease watcher failed: {_text(exc)}")
                self._count("restarts")
                if self._reconnects is not None:
                    self._reconnects.inc()
                log.info("dhclient.restart in=%.2fs", backoff)
                await asyncio.sleep(backoff)  # backoff before watching again, not a poll
                backoff = min(backoff * 2, self._backoff_max)
        finally:
            self._cancel_timer()

    # -- one watch ----------------------------------------------------------------------------

    async def _watch(self) -> None:
        plan = await asyncio.to_thread(make_plan, self._directories)
        self._announce(plan)
        watcher = await asyncio.to_thread(_subscribe, plan.watched)
        batches: asyncio.Queue[set[tuple[int, str]] | BaseException] = asyncio.Queue()
        stop = threading.Event()
        pump = threading.Thread(
            target=_pump,
            args=(watcher, stop, asyncio.get_running_loop(), batches),
            name="netevd-dhclient-watch",
            daemon=True,
        )
        pump.start()
        try:
            await self._snapshot(plan)
            while True:
                batch = await batches.get()
                if isinstance(batch, BaseException):
                    raise batch
                if not await self._on_batch(plan, batch):
                    return
        finally:
            stop.set()  # the pump returns within STEP_MS and closes the watcher itself

    async def _snapshot(self, plan: WatchPlan) -> None:
        found = await asyncio.to_thread(list_lease_files, plan.present)
        for path in self._book.paths():
            if path not in found:
                self._book.remove(path)
        await self._read(found)
        replay = self._up is None
        self._publish(replay=replay)
        if not self._up:
            self._up = True
            leases = len(self._book.current())
            self._emit(SourceStatus(NAME, True, f"{_describe(plan)}; current leases: {leases}"))

    async def _on_batch(self, plan: WatchPlan, batch: set[tuple[int, str]]) -> bool:
        """Read the lease files a batch touched; False when the directories must be planned anew."""
        present = set(plan.present)
        paths = sorted({p for _, p in batch if _lease_path(p, present)})
        others = len(paths) < len({p for _, p in batch})  # a lease directory may have come or gone
        if others and await asyncio.to_thread(make_plan, self._directories) != plan:
            log.info("dhclient.replan")
            return False
        if paths:
            await self._read(paths)
            self._publish(replay=False)
        return True

    async def _read(self, paths: Iterable[str]) -> None:
        wanted = list(paths)
        if not wanted:
            return
        results = await asyncio.to_thread(load_all, wanted, self._max_size)
        for path, loaded in zip(wanted, results, strict=True):
            if loaded is None:
                self._book.remove(path)
                continue
            self._problems(path, loaded.problems)
            if isinstance(loaded, Refused):
                self._refuse(path, loaded)
            else:
                self._count("files.read")
                self._book.put(path, loaded.content)

    # -- events and expiry --------------------------------------------------------------------

    def _publish(self, *, replay: bool) -> None:
        for event in self._book.changes(self._clock(), replay=replay):
            if isinstance(event, LeaseChanged):
                log.info(
                    "dhclient.lease interface=%s family=%d address=%s",
                    event.interface,
                    event.lease.family,
                    event.lease.address,
                )
            elif isinstance(event, LeaseLost):
                log.info("dhclient.lost interface=%s reason=%s", event.interface, event.reason)
            self._emit(event)
        self._arm_timer()

    def _arm_timer(self) -> None:
        self._cancel_timer()
        expire = self._book.next_expiry()
        if expire is None:
            return
        delay = min(max(expire - self._clock(), 0.0) + 0.05, MAX_TIMER)
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._publish(replay=False)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- bookkeeping ----------------------------------------------------------------------------

    def _announce(self, plan: WatchPlan) -> None:
        for directory in plan.missing:
            if directory not in self._announced_missing:
                self._announced_missing.add(directory)
                log.warning("dhclient.directory.missing path=%s (watched for)", directory)
        for directory in plan.present:
            if directory in self._announced_missing:
                self._announced_missing.discard(directory)
                log.info("dhclient.directory.appeared path=%s", directory)

    def _refuse(self, path: str, refused: Refused) -> None:
        key = f"refused.{refused.reason}"
        self._count(key)
        if self._metrics is not None:
            self._metrics.refused.labels(refused.reason).inc()
        count = self.counts[key]
        level = repeat_level(count)
        log.log(
            level,
            "dhclient.refused path=%s reason=%s detail=%r",
            path,
            refused.reason,
            refused.detail,
        )

    def _problems(self, path: str, problems: tuple[Problem, ...]) -> None:
        for problem in problems:
            key = f"problems.{problem.kind}"
            self._count(key)
            if self._metrics is not None:
                self._metrics.problems.labels(problem.kind).inc()
            count = self.counts[key]
            level = repeat_level(count)
            log.log(
                level, "dhclient.problem path=%s line=%d %s", path, problem.line, problem.detail
            )

    def _count(self, key: str) -> None:
        self.counts[key] += 1

    def _down(self, reason: str) -> None:
        log.warning("dhclient.down reason=%r", reason)
        if self._up is False:
            return
        self._up = False
        self._emit(SourceStatus(NAME, False, reason))


# -- the watcher thread ------------------------------------------------------------------------


def _subscribe(paths: list[str]) -> RustNotify:
    # not recursive: only the lease directories' own entries (and a missing one's parent)
    return RustNotify(paths, False, False, 300, False, True)


def _pump(
    watcher: RustNotify,
    stop: threading.Event,
    loop: asyncio.AbstractEventLoop,
    batches: asyncio.Queue[set[tuple[int, str]] | BaseException],
) -> None:
    """Hand inotify batches to the loop until *stop*; the watcher is closed here, after use."""
    try:
        while not stop.is_set():
            found = watcher.watch(DEBOUNCE_MS, STEP_MS, 0, stop)
            if isinstance(found, set):
                _hand_over(loop, batches, found)
    except Exception as exc:
        _hand_over(loop, batches, exc)
    finally:
        watcher.close()


def _hand_over(
    loop: asyncio.AbstractEventLoop,
    batches: asyncio.Queue[set[tuple[int, str]] | BaseException],
    item: set[tuple[int, str]] | BaseException,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
        loop.call_soon_threadsafe(batches.put_nowait, item)


def _lease_path(path: str, present: set[str]) -> bool:
    parent, name = os.path.split(path)
    return parent in present and is_lease_file(name)


def _describe(plan: WatchPlan) -> str:
    parts = [f"watching {', '.join(plan.present) or 'no lease directory'}"]
    if plan.missing:
        parts.append(f"waiting for {', '.join(plan.missing)}")
    return "; ".join(parts)


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
