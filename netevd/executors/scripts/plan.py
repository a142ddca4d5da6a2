"""What one run will execute: its scripts in order, which of them run without waiting, and the
trust walk of each script right before its exec.

Blocking (discovery stats files): the executor calls :func:`plan_run` through
``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from netevd.core.actions import RunScripts
from netevd.core.scripts import ScriptVerdict
from netevd.core.trees import Tree
from netevd.executors.scripts.discovery import WarnMemory, discover
from netevd.executors.scripts.nm_dispatcher import no_wait_scripts, warn_blocking_hooks
from netevd.executors.scripts.runner import retry_on_shortage
from netevd.executors.scripts.settings import ScriptSettings
from netevd.executors.scripts.trust import DescriptorShortage, Walked, open_script

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
