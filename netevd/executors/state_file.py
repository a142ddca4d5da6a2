"""netevd's one state file, ``<state_dir>/tables.json``: the policy-routing table each link got.

The file carries its format's version (``"version": 1``). A file of the first, unversioned
layout (a plain ``{"eth1": 201}`` mapping, as written by hand or by early builds) is read and
rewritten in the current format on the next save; a version this build does not know (a newer
netevd's, or garbage) is refused with a message that says so, and never overwritten until the
tables change. A file that cannot be written (a full or read-only ``state_dir``) stops nothing:
routing and scripts go on, the first failure of a streak is logged, every one is counted
(``netevd_state_write_failures_total``), ``/health`` says degraded, and the write is tried
again with backoff until it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from netevd.core.environment import link_name_problem
from netevd.core.routing import MAX_TABLE, RESERVED_TABLES
from netevd.executors.tasks import Spawn, create_task
from netevd.telemetry.metrics import Metrics

log = logging.getLogger("netevd.state")

TABLES_FILE = "tables.json"
FORMAT_VERSION = 1
RETRY_FIRST, RETRY_MAX = 1.0, 60.0  # seconds between attempts at a write that failed


def save_tables(state_dir: Path, tables: dict[str, int]) -> None:
    """Write the file atomically (a temporary file, then rename): never half a file."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".tables-")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"version": FORMAT_VERSION, "tables": tables}, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, state_dir / TABLES_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # a full disk must not fill up with our leftovers too
        raise


def load_tables(state_dir: str) -> tuple[dict[str, int], list[str]]:
    """The persisted tables and the problems found; a bad file is reported, never fatal."""
    path = Path(state_dir) / TABLES_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, []
    except (OSError, ValueError) as exc:
        return {}, [f"{path}: cannot read ({exc}); starting without remembered tables"]
    raw, problems = _tables_of(path, data)
    return _valid(path, raw, problems)


def _tables_of(path: Path, data: Any) -> tuple[dict[Any, Any], list[str]]:
    """The file's table mapping by its format version."""
    if not isinstance(data, dict):
        return {}, [f"{path}: not a JSON object; starting without remembered tables"]
    if "version" not in data and "tables" not in data:
        note = f"{path}: format 0 (no version) read; it is rewritten as format 1 on next save"
        return data, [note]
    version = data.get("version")
    if version != FORMAT_VERSION:
        return {}, [
            f"{path}: format version {version!r} is not one this netevd reads "
            f"({FORMAT_VERSION}); refused: starting without remembered tables"
        ]
    raw = data.get("tables")
    if not isinstance(raw, dict):
        return {}, [f"{path}: no 'tables' mapping; starting without remembered tables"]
    return raw, []


def _valid(
    path: Path, raw: dict[Any, Any], problems: list[str]
) -> tuple[dict[str, int], list[str]]:
    tables = {}
    for name, table in raw.items():
        if (
            not isinstance(name, str)
            or link_name_problem(name)
            or not isinstance(table, int)
            or isinstance(table, bool)
            or table in RESERVED_TABLES
            or not 1 <= table <= MAX_TABLE
        ):
            problems.append(f"{path}: ignoring entry {name!r}: {table!r}")
            continue
        tables[name] = table
    return tables, problems


class TablesFile:
    """Writes the tables file; keeps failing writes from being anything but degraded."""

    def __init__(self, state_dir: Path, metrics: Metrics, *, spawn: Spawn = create_task) -> None:
        self._dir = state_dir
        self._metrics = metrics
        self._spawn = spawn
        self._pending: dict[str, int] | None = None
        self._retry: asyncio.Task[Any] | None = None
        self._lock = asyncio.Lock()
        self.failures = 0  # failed writes in the current streak
        self.problem: str | None = None  # what /health shows while writes fail

    async def save(self, tables: dict[str, int]) -> None:
        self._pending = dict(tables)
        if await self._attempt() or (self._retry is not None and not self._retry.done()):
            return
        self._retry = self._spawn(self._retry_with_backoff(), "state-file-retry")

    async def _attempt(self) -> bool:
        # One write at a time, each of the newest tables: two in flight could land out of order.
        async with self._lock:
            tables = self._pending
            if tables is None:
                return True
            try:
                await asyncio.to_thread(save_tables, self._dir, tables)
            except OSError as exc:
                self._failed(exc)
                return False
            if self._pending is tables:
                self._pending = None
            if self.failures:
                log.warning(
                    "state.write.recovered file=%s after=%d failed writes",
                    self._dir / TABLES_FILE,
                    self.failures,
                )
            self.failures, self.problem = 0, None
            return True

    def _failed(self, exc: OSError) -> None:
        self._metrics.state_write_failures.inc()
        self.failures += 1
        self.problem = f"cannot write {self._dir / TABLES_FILE}: {exc.strerror or exc}"
        if self.failures == 1:  # once per streak: a full disk must not fill the journal too
            log.error(
                "state.write.failed file=%s error=%r (routing and scripts go on; retrying "
                "with backoff; tables may move on restart until it is written)",
                self._dir / TABLES_FILE,
                exc.strerror or str(exc),
            )

    async def _retry_with_backoff(self) -> None:
        # Not a poll of the world: one failed write, tried again until the disk takes it.
        delay = RETRY_FIRST
        while True:
            await asyncio.sleep(delay)
            if await self._attempt():
                return
            delay = min(delay * 2, RETRY_MAX)
