"""Finding the scripts of one ``<state>.d`` directory and deciding which of them may run.

Blocking (it stats files): the executor calls it through ``asyncio.to_thread``. Every file
found gets a verdict, so ``/api/v1/scripts`` and ``netevd list scripts`` can show why a script
did not run; the executor additionally logs each skipped file once (see ``WarnMemory``).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from netevd.core.compat.networkd_dispatcher import STATES as NETWORKD_DISPATCHER_STATES
from netevd.core.scripts import ScriptVerdict
from netevd.core.trees import NM_DISPATCHER_DIRECTORY, Tree
from netevd.executors.scripts.nm_dispatcher import EMPTY, empty, skipped_entry
from netevd.executors.scripts.settings import ScriptSettings
from netevd.executors.scripts.trust import DescriptorShortage, open_directory, open_script
from netevd.system.logfmt import kv

log = logging.getLogger("netevd.scripts")

_DIRECTORY = re.compile(r"[a-z][a-z0-9-]*")
_LEFTOVER_SUFFIXES = (
    "~",
    ".rpmsave",
    ".rpmnew",
    ".rpmorig",
    ".swp",
    ".bak",
)
_DPKG = re.compile(r".*\.dpkg-[a-z]+")

LEFTOVER = "editor or package leftover"
MASKED = "masked (symlink to /dev/null)"
NM_DISPATCHER_LISTED = "up"  # any action finds the same files (see NM_DISPATCHER_DIRECTORY)


def valid_directory(directory: str) -> bool:
    """Defence in depth: the core maps states through a fixed enum, never joins input."""
    return _DIRECTORY.fullmatch(directory) is not None


def unscripted(settings: ScriptSettings, directories: Iterable[str]) -> frozenset[str]:
    """Which of *directories* have no entry in any of netevd's script directories (blocking).
    Anything but a missing directory counts as an entry: an unreadable one gets its runs built
    and its verdict from the discovery, as before."""
    return frozenset(
        d for d in directories if not any(map(_has_entry, settings.directories(Tree.NETEVD, d)))
    )


def _has_entry(path: Path) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is not None
    except FileNotFoundError:
        return False
    except OSError:
        return True


def is_leftover(name: str) -> bool:
    return name.startswith(".") or name.endswith(_LEFTOVER_SUFFIXES) or bool(_DPKG.fullmatch(name))


class WarnMemory:
    """Which skipped files were already warned about, so each is warned once, not per event.

    Keyed by path; the remembered identity (device, inode, mtime, mode, owner, reason) changing
    means the admin touched the file, which deserves a fresh warning. Thread-safe because
    discoveries for different links run in parallel worker threads.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[object, ...]] = {}
        self._lock = threading.Lock()

    def first_time(self, path: str, st: os.stat_result | None, reason: str) -> bool:
        ident: tuple[object, ...] = (reason,)
        if st is not None:
            ident = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_mode, st.st_uid, reason)
        with self._lock:
            if self._seen.get(path) == ident:
                return False
            self._seen[path] = ident
            return True

    def forget(self, path: str) -> None:
        with self._lock:
            self._seen.pop(path, None)


def check_file(
    settings: ScriptSettings, path: Path, dir_reason: str = ""
) -> tuple[str, os.stat_result | None]:
    """Why *path* must not run ("" if it may), and the stat the verdict was based on.

    The same walk as the one done right before each exec (script_trust.open_script), so
    ``/api/v1/scripts`` says exactly what would run.
    """
    if is_leftover(path.name):
        try:
            return LEFTOVER, os.lstat(path)
        except OSError:
            return LEFTOVER, None
    checked = open_script(str(path), settings.allowed_uids)
    checked.close()
    if checked.masked:
        return MASKED, checked.st
    return dir_reason or checked.reason, checked.st


def _list_directory(settings: ScriptSettings, path: Path) -> tuple[list[str], str]:
    """The entry names in *path* and the directory's own problem ("" if none).

    Raises DescriptorShortage (EMFILE/ENFILE): being out of descriptors says nothing about
    the directory, so the caller retries rather than calling it unreadable.
    """
    checked = open_directory(str(path), settings.allowed_uids)
    if checked.missing and checked.reason in ("no such file", "broken symlink"):
        return [], ""  # no scripts for this state: the common case
    try:
        if checked.fd is not None:
            return os.listdir(checked.fd), ""
        # Refused: list it anyway (when possible) so every file shows the directory's reason.
        try:
            return os.listdir(path), checked.reason
        except OSError as err:
            if err.errno in (errno.EMFILE, errno.ENFILE):
                raise DescriptorShortage(err.errno, err.strerror, str(path)) from None
            return [], checked.reason
    finally:
        checked.close()


def _warn(memory: WarnMemory | None, path: str, st: os.stat_result | None, reason: str) -> None:
    if memory is None:
        return
    if reason in (MASKED, EMPTY):  # what NetworkManager-dispatcher skips without a word
        log.debug(kv("script.masked" if reason == MASKED else "script.empty", path=path))
    elif memory.first_time(path, st, reason):
        log.warning(kv("script.skipped", path=path, reason=reason))


def _sort_key(name: str) -> bytes:
    return os.fsencode(name)


def _collect(
    settings: ScriptSettings, directory: str, memory: WarnMemory | None, tree: str
) -> list[tuple[str, Path, str]]:
    """(name, path, directory problem) for every entry of every base, in base order."""
    found: list[tuple[str, Path, str]] = []
    for dpath in settings.directories(tree, directory):
        names, problem = _list_directory(settings, dpath)
        if not names and problem:
            _warn(memory, str(dpath), None, problem)
        entries = ((name, dpath / name) for name in sorted(names, key=_sort_key))
        if tree == Tree.NM_DISPATCHER:  # no-wait.d, pre-up.d, pre-down.d are not scripts
            entries = ((name, path) for name, path in entries if not skipped_entry(path))
        found.extend((name, path, problem) for name, path in entries)
    return found


def _judge(
    settings: ScriptSettings, path: Path, problem: str, tree: str
) -> tuple[str, os.stat_result | None]:
    reason, st = check_file(settings, path, problem)
    if not reason and tree == Tree.NM_DISPATCHER and empty(path):
        reason = EMPTY
    return reason, st


def discover(
    settings: ScriptSettings,
    directory: str,
    *,
    memory: WarnMemory | None = None,
    tree: str = Tree.NETEVD.value,
) -> tuple[list[Path], list[ScriptVerdict]]:
    """The scripts of ``<directory>.d`` that run (in name byte order) and every file's verdict.

    A name in an earlier base shadows the same name in a later base whatever its own verdict:
    an admin's broken or masked override must not silently fall back to the vendor's script.
    With *memory*, each skipped file is logged once (until it changes or the memory is reset).
    """
    if not valid_directory(directory):
        log.error(kv("script.directory.refused", directory=directory))
        return [], []
    runnable: list[Path] = []
    verdicts: list[ScriptVerdict] = []
    winners: dict[str, Path] = {}
    for name, path, problem in _collect(settings, directory, memory, tree):
        winner = winners.setdefault(name, path)
        st: os.stat_result | None = None
        if winner != path:
            reason = f"shadowed by {winner}"
        else:
            reason, st = _judge(settings, path, problem, tree)
            if reason:
                _warn(memory, str(path), st, reason)
            elif memory is not None:
                memory.forget(str(path))  # so breaking it again later warns again
        if not reason and winner == path:
            runnable.append(path)
        verdicts.append(ScriptVerdict(directory, name, str(path), not reason, reason, tree))
    runnable.sort(key=lambda p: _sort_key(p.name))
    verdicts.sort(key=lambda v: _sort_key(v.name))  # stable: the winner stays first
    return runnable, verdicts


def scan_all(settings: ScriptSettings, directories: Iterable[str]) -> list[ScriptVerdict]:
    """Every file of every given directory with its verdict, then those of the dispatchers'
    trees that are on (for the API; logs nothing)."""
    verdicts: list[ScriptVerdict] = []
    for directory in directories:
        if valid_directory(directory):
            verdicts.extend(discover(settings, directory)[1])
    trees = dict(settings.compat_dirs)
    if Tree.NETWORKD_DISPATCHER in trees:
        for directory in sorted(NETWORKD_DISPATCHER_STATES):
            verdicts.extend(discover(settings, directory, tree=Tree.NETWORKD_DISPATCHER)[1])
    if Tree.NM_DISPATCHER in trees:
        # one flat tree whatever the action: listed once, as dispatcher.d
        found = discover(settings, NM_DISPATCHER_LISTED, tree=Tree.NM_DISPATCHER)[1]
        verdicts.extend(replace(v, directory=NM_DISPATCHER_DIRECTORY) for v in found)
    return verdicts
