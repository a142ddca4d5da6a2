"""The script executor: runs ``RunScripts`` actions per link, in order, links in parallel.

One run (every script of one directory for one link) at a time per link, in submission order;
different links in parallel under a global cap. A worker task exists only while its link has
work, so 10,000 quiet veths cost nothing. A newer state for the same link and directory replaces
a queued, not-yet-started run; pending runs (``PendingRun``: routes.d and the address, mtu and
gateway hooks) wait for their link's quiet window and only the newest survives. Everything is
driven by timers, tasks and semaphores: no polling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netevd.core.actions import PendingRun, RunScripts
from netevd.core.events import Event, QuietWindowEnded, RunDropped, ScriptFinished
from netevd.core.scripts import ScriptVerdict, enqueue
from netevd.executors.scripts.discovery import (
    WarnMemory,
    discover,
    scan_all,
    unscripted,
    valid_directory,
)
from netevd.executors.scripts.files import (
    close_quietly,
    event_stdin,
    remove_files,
    write_run_files,
)
from netevd.executors.scripts.plan import RunPlan, check_script, plan_run
from netevd.executors.scripts.report import ExecutorStats, LineLog, account
from netevd.executors.scripts.runner import (
    ScriptResult,
    retry_on_shortage,
    run_script,
    script_environment,
)
from netevd.executors.scripts.settings import ScriptSettings
from netevd.executors.scripts.trust import Walked
from netevd.executors.tasks import Spawn, create_task
from netevd.system.logfmt import kv
from netevd.system.reaper import Reaper

__all__ = [
    "ExecutorStats",
    "ScriptExecutor",
    "ScriptResult",
    "ScriptSettings",
    "ScriptVerdict",
    "discover",
    "run_script",
    "scan_all",
    "script_environment",
]

log = logging.getLogger("netevd.scripts")

REPORTED_OUTPUT = 4096  # characters of output tail carried by ScriptFinished
LOGGED_LINES = 200  # output lines logged per script; the rest are counted
KILLED = "killed at shutdown"

Emit = Callable[[Event], None]
_Key = tuple[int, str]  # (link index, directory)


@dataclass
class _Waiting:
    action: PendingRun
    last: float  # loop time of the newest submit
    handle: asyncio.TimerHandle


class ScriptExecutor:
    def __init__(
        self,
        settings: ScriptSettings,
        emit: Emit,
        *,
        base_env: Mapping[str, str] | None = None,
        spawn: Spawn = create_task,
        reaper: Reaper | None = None,
    ) -> None:
        self._settings = settings
        self._reaper = reaper  # set when the daemon is the subreaper of its scripts' orphans
        self._spawn = spawn  # the daemon's supervisor holds the workers
        # Reports (ScriptFinished, RunDropped) and quiet windows' ends go to the engine's queue.
        self._report = emit
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._memory = WarnMemory()
        self._sem = asyncio.Semaphore(max(settings.max_parallel, 1))
        self._queues: dict[int, deque[RunScripts]] = {}
        self._workers: dict[int, asyncio.Task[Any]] = {}
        self._detached: set[asyncio.Task[Any]] = set()  # no-wait.d scripts still running
        self._waiting: dict[_Key, _Waiting] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._stats = ExecutorStats()

    @property
    def stats(self) -> ExecutorStats:
        return dataclasses.replace(self._stats)  # a snapshot: callers cannot skew the counters

    # -- intake -------------------------------------------------------------------------------

    def submit(self, action: RunScripts | PendingRun) -> None:
        """Queue *action* (or start its quiet window). Call from the event loop; never blocks."""
        if self._closed:
            log.debug(kv("script.run.ignored", link=action.link_name, seq=action.seq))
            return
        if not valid_directory(action.directory):
            log.error(
                kv("script.directory.refused", directory=action.directory, link=action.link_name)
            )
            return
        if isinstance(action, PendingRun):
            self._wait_quiet(action)
        elif not action.built:  # its directory held nothing at start (RunScripts.built)
            self._stats.runs += 1  # counted, but no queue and no worker for a run of nothing
        else:
            self._enqueue(action)

    def _wait_quiet(self, action: PendingRun) -> None:
        loop = asyncio.get_running_loop()
        key = (action.link_index, action.directory)
        pending = self._waiting.get(key)
        if pending is not None:
            # Moving the deadline lazily (see _window_ended) instead of cancelling and re-arming
            # keeps a storm of route messages from piling cancelled handles into the loop.
            self._stats.pending_replaced += 1
            pending.action = action
            pending.last = loop.time()
            return
        handle = loop.call_later(self._settings.quiet_window, self._window_ended, key)
        self._waiting[key] = _Waiting(action, loop.time(), handle)
        self._idle.clear()

    def _window_ended(self, key: _Key) -> None:
        pending = self._waiting[key]
        loop = asyncio.get_running_loop()
        remaining = pending.last + self._settings.quiet_window - loop.time()
        if remaining > 0:  # submits arrived since the timer was armed: wait for quiet
            pending.handle = loop.call_later(remaining, self._window_ended, key)
            return
        del self._waiting[key]
        # The engine completes the run with the picture of this moment and submits it back.
        self._emit(QuietWindowEnded(pending.action))
        self._check_idle()

    def _enqueue(self, action: RunScripts) -> None:
        link = action.link_index
        queue, superseded = enqueue(tuple(self._queues.get(link, ())), action)
        self._queues[link] = deque(queue)
        for old in superseded:
            self._stats.superseded += 1
            # Debug only: the RunDropped report is what gets logged and counted (by the engine).
            fields = {"link": action.link_name, "directory": action.directory}
            log.debug(kv("script.run.superseded", **fields, seq=old.seq, by=action.seq))
            self._emit(
                RunDropped(old.seq, old.directory, old.link_index, old.link_name, action.seq)
            )
        self._idle.clear()
        if link not in self._workers:
            self._workers[link] = self._spawn(self._worker(link), f"scripts-{link}")

    # -- workers ------------------------------------------------------------------------------

    async def _worker(self, link: int) -> None:
        try:
            while True:
                sem = self._sem  # update() may replace it; release the one we took
                async with sem:
                    action = self._next(link)
                    if action is None:
                        return
                    try:
                        await self._run(action)
                    except Exception:  # a bug here must not strand the link's queue
                        log.exception(kv("script.run.crashed", link=action.link_name))
        finally:
            if self._workers.get(link) is asyncio.current_task():
                del self._workers[link]
            self._check_idle()

    def _next(self, link: int) -> RunScripts | None:
        """Pop the link's next run; with none left, retire the worker in the same step.

        No await between the emptiness check and the retirement, so a submit either sees
        the worker still registered (and its run gets picked up) or starts a new one.
        """
        queue = self._queues.get(link)
        if self._closed or not queue:
            self._queues.pop(link, None)
            self._workers.pop(link, None)
            return None
        return queue.popleft()

    async def _run(self, action: RunScripts) -> None:
        self._stats.runs += 1
        settings = self._settings
        plan = await self._discover(action)
        if plan is None:
            return
        self._stats.skipped_scripts += sum(
            1 for v in plan.verdicts if not v.runs and not v.reason.startswith("shadowed by ")
        )
        first = plan.first
        try:
            if not plan.paths:
                return
            for name, reason in action.dropped:
                log.warning(
                    kv("script.env.dropped", link=action.link_name, variable=name, reason=reason)
                )
            env = script_environment(action.env_dict(), self._base_env)
            files = await write_run_files(action, settings)
            env.update(files)
            try:
                for path in plan.paths:
                    if self._closed:  # shutting down: finish the script in hand, start no more
                        return
                    checked, first = first, None  # the first script was opened with the plan
                    job = self._run_one(action, path, env, settings, checked)
                    if path in plan.detached:  # compat runs pass no files: none outlives it
                        self._detach(job, action)
                    else:
                        await job
            finally:
                if files:
                    await asyncio.to_thread(remove_files, files.values())
        finally:
            if first is not None:
                first.close()

    def _detach(self, job: Any, action: RunScripts) -> None:
        """NetworkManager's no-wait.d: started now, waited for by nobody (still timed out,
        killed at stop and reported like any other script)."""
        task = self._spawn(job, f"no-wait-{action.link_index}")
        self._detached.add(task)
        task.add_done_callback(self._detached_done)

    def _detached_done(self, task: asyncio.Task[Any]) -> None:
        self._detached.discard(task)
        self._check_idle()

    async def _discover(self, action: RunScripts) -> RunPlan | None:
        """The run's scripts; out of descriptors (EMFILE/ENFILE) is retried, not a verdict."""
        settings = self._settings
        try:
            return await retry_on_shortage(
                lambda: asyncio.to_thread(plan_run, settings, action, self._memory),
                f"discover {action.directory}.d",
            )
        except Exception:
            log.exception(kv("script.discovery.failed", directory=action.directory))
            return None

    async def _run_one(
        self,
        action: RunScripts,
        path: Path,
        env: Mapping[str, str],
        settings: ScriptSettings,
        checked: Walked | None = None,
    ) -> None:
        # The verdict is taken again right before the exec (for the first script, with the
        # discovery); the exec is then by the path that was walked, so that $0 is the script's
        # name. Nobody untrusted can write any component of a chain that passed the walk, so
        # nobody untrusted can swap anything between the two (docs/security.md).
        if checked is None:
            checked = await check_script(path, settings)
        may_run = checked.fd is not None  # the walk leaves a descriptor only when it may
        checked.close()
        if not may_run:
            self._stats.skipped_scripts += 1
            if checked.masked:
                log.debug(kv("script.masked", path=path))
            elif self._memory.first_time(str(path), checked.st, checked.reason):
                log.warning(kv("script.skipped", path=path, reason=checked.reason))
            return
        stdin = None
        try:
            if settings.stdin_json and "NETEVD_JSON" in env:
                stdin = await asyncio.to_thread(event_stdin, env["NETEVD_JSON"])
            script_env = {**env, "NETEVD_SCRIPT": str(path)}
            await self._exec(action, path, script_env, stdin)
        finally:
            close_quietly(stdin)

    async def _exec(
        self, action: RunScripts, path: Path, env: Mapping[str, str], stdin: int | None
    ) -> None:
        settings = self._settings
        self._stats.scripts_started += 1
        lines = LineLog(action.link_name, str(path))
        start = asyncio.get_running_loop().time()
        try:
            result = await run_script(
                path,
                env,
                settings.timeout,
                settings.output_limit,
                on_line=lines,
                line_budget=LOGGED_LINES,
                reaper=self._reaper,
                args=action.args,
                stdin=stdin,
            )
        except asyncio.CancelledError:
            # Shutdown ran out of grace; run_script has killed and reaped the group. Say so,
            # so the API and metrics do not show the script as still running.
            elapsed = asyncio.get_running_loop().time() - start
            self._finished(action, path, ScriptResult(None, elapsed, False, KILLED, "", 0))
            raise
        lines.finish(result.lines_unlogged)
        self._finished(action, path, result)
        await self.sweep()

    async def sweep(self) -> None:
        """End the processes that escaped a script's group (see netevd.system.reaper)."""
        if self._reaper is not None:
            await asyncio.to_thread(self._reaper.sweep)

    def _finished(self, action: RunScripts, path: Path, result: ScriptResult) -> None:
        account(self._stats, action, path, result, self._settings.timeout)
        self._emit(
            ScriptFinished(
                seq=action.seq,
                directory=action.directory,
                link_index=action.link_index,
                link_name=action.link_name,
                script=str(path),
                exit_code=result.exit_code,
                duration=result.duration,
                timed_out=result.timed_out,
                error=result.error,
                output=result.output[-REPORTED_OUTPUT:],
            )
        )

    def _emit(self, event: ScriptFinished | RunDropped | QuietWindowEnded) -> None:
        try:
            self._report(event)
        except Exception:  # a broken consumer must not stop the link's scripts
            log.exception(kv("script.report.failed", event=type(event).__name__))

    # -- control ------------------------------------------------------------------------------

    def update(self, settings: ScriptSettings) -> None:
        """New settings (reload / SIGHUP); skipped scripts are warned about afresh."""
        if settings.max_parallel != self._settings.max_parallel:
            # Runs in progress release the old semaphore; new runs take the new one.
            self._sem = asyncio.Semaphore(max(settings.max_parallel, 1))
        self._settings = settings
        self._memory = WarnMemory()

    def unscripted(self, directories: Iterable[str]) -> frozenset[str]:
        """Which *directories* hold no entry now (blocking: call it through asyncio.to_thread)."""
        return unscripted(self._settings, directories)

    def scan(self, directories: Iterable[str]) -> list[ScriptVerdict]:
        """Every script's verdict (blocking: call it through asyncio.to_thread)."""
        return scan_all(self._settings, directories)

    def _check_idle(self) -> None:
        if not (self._queues or self._workers or self._waiting or self._detached):
            self._idle.set()

    async def idle(self) -> None:
        """Return once nothing is debouncing, queued or running."""
        self._check_idle()
        await self._idle.wait()

    async def shutdown(self) -> None:
        """Stop: drop what has not started, give running scripts the grace, then kill them."""
        self._closed = True
        for pending in self._waiting.values():
            pending.handle.cancel()
        dropped = len(self._waiting) + sum(len(queue) for queue in self._queues.values())
        self._waiting.clear()
        self._queues.clear()
        workers = [*self._workers.values(), *self._detached]
        log.info(kv("script.shutdown", running=len(workers), dropped=dropped))
        if workers:
            _, late = await asyncio.wait(workers, timeout=self._settings.shutdown_grace)
            for task in late:
                task.cancel()  # run_script kills the process group and reaps it
            await asyncio.gather(*workers, return_exceptions=True)
        await self.sweep()  # nothing a script started survives the daemon's stop
        self._check_idle()
