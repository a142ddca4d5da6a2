"""NetworkManager-dispatcher's file rules, for its scripts run by netevd (compat.nm_dispatcher).

As its nm-dispatcher.c (NetworkManager 1.42) has them:

- the scripts are the files of ``dispatcher.d`` itself (``/etc`` shadowing ``/usr/lib`` by
  name); subdirectories (``no-wait.d``, ``pre-up.d``, ``pre-down.d``) and empty files are
  skipped without a word (``check_file``: ``!S_ISREG || st_size == 0``);
- a script that is a symlink whose target lies in a directory called ``no-wait.d`` runs without
  waiting for the scripts before it (``script_must_wait``: the link read once, its directory's
  real path ending in ``/no-wait.d``);
- ``pre-up.d`` and ``pre-down.d`` hold the scripts of ``pre-up``/``pre-down``, which
  NetworkManager waits for before it goes on. An observer cannot make it wait: they never run
  here, and their presence is warned about once.

Blocking (it stats and reads links): called through ``asyncio.to_thread``. These rules decide
only *which* files and in what order; whether a file may run at all is the trust walk's
(netevd.executors.scripts.trust), the same as for every other script.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from netevd.system.logfmt import kv

log = logging.getLogger("netevd.scripts")

NO_WAIT = "no-wait.d"
BLOCKING = ("pre-up.d", "pre-down.d")
EMPTY = "empty file (NetworkManager-dispatcher skips these too)"
# WarnMemory.first_time: whether (path, its stat, reason) is news worth a warning.
Warned = Callable[[str, "os.stat_result | None", str], bool]


def skipped_entry(path: Path) -> bool:
    """Whether *path* is not a script at all for nm-dispatcher: a (link to a) directory."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False  # the trust walk gives the verdict (a broken link, say)


def empty(path: Path) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False


def runs_without_waiting(path: Path) -> bool:
    """nm-dispatcher's ``script_must_wait`` negated: a symlink into a ``no-wait.d``."""
    try:
        target = os.readlink(path)
    except OSError:
        return False  # not a symlink
    if not target.startswith("/"):
        target = os.path.join(os.path.dirname(path), target)
    return os.path.realpath(os.path.dirname(target)).endswith("/" + NO_WAIT)


def no_wait_scripts(paths: Iterable[Path]) -> frozenset[Path]:
    return frozenset(path for path in paths if runs_without_waiting(path))


def blocking_hooks(bases: Iterable[str]) -> list[tuple[str, int]]:
    """(directory, number of files) for every non-empty pre-up.d/pre-down.d under *bases*."""
    found = []
    for base in bases:
        for name in BLOCKING:
            directory = os.path.join(base, name)
            try:
                count = len(os.listdir(directory))
            except OSError:
                continue
            if count:
                found.append((directory, count))
    return found


def warn_blocking_hooks(bases: Iterable[str], first_time: Warned) -> None:
    """One warning per pre-up.d/pre-down.d that holds files (again once it changes)."""
    for directory, count in blocking_hooks(bases):
        try:
            st: os.stat_result | None = os.stat(directory)
        except OSError:
            st = None
        if first_time(directory, st, "blocking hooks"):
            log.warning(
                kv(
                    "compat.nm_dispatcher.skipped",
                    directory=directory,
                    files=count,
                    reason="NetworkManager waits for pre-up/pre-down scripts; netevd observes "
                    "NetworkManager and cannot make it wait, so they never run",
                )
            )
