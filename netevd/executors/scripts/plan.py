"""What one run will execute: its scripts in order, and which of them run without waiting.

Blocking (discovery stats files): the executor calls :func:`plan_run` through
``asyncio.to_thread``. Also here: the executor's counters, its line logger and its accounting,
and the awaitable helpers that hand its file-system work to a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from netevd.core.actions import RunScripts
from netevd.core.scripts import ScriptVerdict
from netevd.core.trees import Tree
from netevd.executors.scripts.discovery import ScriptSettings, WarnMemory, discover
from netevd.executors.scripts.files import write_files
from netevd.executors.scripts.nm_dispatcher import no_wait_scripts, warn_blocking_hooks
from netevd.executors.scripts.runner import ScriptResult, retry_on_shortage
from netevd.executors.scripts.trust import DescriptorShortage, Walked, open_script
from netevd.system.logfmt import kv

log = logging.getLogger("netevd.scripts")


@dataclass(frozen=True)
class RunPlan:
    paths: list[Path]  # the scripts that may run, in order
    verdicts: list[ScriptVerdict]  # every file found, with its verdict
    detached: frozenset[Path] = frozenset()  # NetworkManager's no-wait.d: nobody waits for them
    # The first script checked and opened in the same thread call as the discovery: one hop to
    # a thread less between the event and its first script (the executor closes it).
    first: Walked | None = None


def plan_run(settings: ScriptSettings, action: RunScripts, memory: WarnMemory) -> RunPlan:
    """The scripts of *action*'s directory in its tree (NetworkManager-dispatcher's: with its
    no-wait rule, and a warning about the pre-up.d/pre-down.d it never runs), the first one
    already checked and opened for its exec."""
    paths, verdicts = discover(settings, action.directory, memory=memory, tree=action.tree)
    detached: frozenset[Path] = frozenset()
    if action.tree == Tree.NM_DISPATCHER:
        bases = dict(settings.compat_dirs).get(action.tree, ())
        warn_blocking_hooks(bases, memory.first_time)
        detached = no_wait_scripts(paths)
    first = open_script(str(paths[0]), settings.allowed_uids) if paths else None
    return RunPlan(paths, verdicts, detached, first)


def event_stdin(document: str) -> int:
    """A file descriptor reading *document* from its start (scripts.stdin_json): a memfd, so
    a script that never reads it blocks nobody, and nothing is written to disk."""
    fd = os.memfd_create("netevd-event", os.MFD_CLOEXEC)
    try:
        data = document.encode()
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def close_quietly(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass
class ExecutorStats:
    runs: int = 0  # runs started (a run: one directory's scripts for one link)
    scripts_started: int = 0  # scripts we tried to execute, including those that failed to start
    failures: int = 0  # non-zero exit, killed, timed out or failed to start
    timeouts: int = 0
    superseded: int = 0  # queued runs replaced by a newer one (each reported as RunDropped)
    coalesced: int = 0  # pending runs replaced by a newer one inside the quiet window
    skipped_scripts: int = 0  # files not run because of their verdict, counted per run


class LineLog:
    """Logs the output lines a script's runner hands over (at most the runner's line budget:
    it stops splitting after that and only counts), then how many were left out."""

    def __init__(self, link: str, script: str) -> None:
        self.link = link
        self.script = script

    def __call__(self, line: str) -> None:
        log.info(kv("script.output", link=self.link, script=self.script, line=line))

    def finish(self, unlogged: int) -> None:
        if unlogged:
            log.info(
                kv("script.output.suppressed", link=self.link, script=self.script, lines=unlogged)
            )


async def write_run_files(action: RunScripts, settings: ScriptSettings) -> dict[str, str]:
    """Values too large for the environment, in files; {variable: path}. No thread hop when
    there are none: it would delay every script's start."""
    if not action.files:
        return {}
    return await asyncio.to_thread(write_files, action.files, settings.runtime_dir)


async def check_script(path: Path, settings: ScriptSettings) -> Walked:
    """The trust walk of *path* right before its exec (out of descriptors: retried, then a
    verdict of its own)."""
    try:
        return await retry_on_shortage(
            lambda: asyncio.to_thread(open_script, str(path), settings.allowed_uids),
            f"check {path}",
        )
    except DescriptorShortage:
        return Walked(reason="out of file descriptors")


def account(
    stats: ExecutorStats, action: RunScripts, path: Path, result: ScriptResult, timeout: float
) -> None:
    """Count and log how a script ended."""
    fields = {"link": action.link_name, "script": str(path), "seq": action.seq}
    duration = f"{result.duration:.3f}"
    if result.exit_code == 0:
        log.info(kv("script.finished", **fields, exit=0, duration=duration))
        return
    stats.failures += 1
    if result.timed_out:
        stats.timeouts += 1
        log.warning(kv("script.timeout", **fields, timeout=timeout))
    elif result.error:
        log.error(kv("script.error", **fields, error=result.error))
    else:
        log.warning(kv("script.failed", **fields, exit=result.exit_code, duration=duration))
