"""The script executor's counters, its logger of scripts' output lines, and how a script's end
is counted and logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from netevd.core.actions import RunScripts
from netevd.executors.scripts.runner import ScriptResult
from netevd.system.logfmt import kv

log = logging.getLogger("netevd.scripts")


@dataclass
class ExecutorStats:
    runs: int = 0  # runs started (a run: one directory's scripts for one link)
    scripts_started: int = 0  # scripts we tried to execute, including those that failed to start
    failures: int = 0  # non-zero exit, killed, timed out or failed to start
    timeouts: int = 0
    superseded: int = 0  # queued runs replaced by a newer one (each reported as RunDropped)
    pending_replaced: int = 0  # pending runs replaced by a newer one inside the quiet window
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
