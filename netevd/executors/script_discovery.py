"""Finding the scripts of one ``<state>.d`` directory and deciding which of them may run.

Blocking (it stats files): the executor calls it through ``asyncio.to_thread``. Every file
found gets a verdict, so ``/api/v1/scripts`` and ``netevd list scripts`` can show why a script
did not run; the executor additionally logs each skipped file once (see ``WarnMemory``).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from netevd.core.verdicts import ScriptVerdict
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
_MASK_TARGET = "/dev/null"

LEFTOVER = "editor or package leftover"
MASKED = "masked (symlink to /dev/null)"


@dataclass(frozen=True)
class ScriptSettings:
    script_dirs: tuple[str, ...]  # earlier directories shadow later ones by file name
    timeout: float = 30.0  # per script; then the whole process group is killed
    max_parallel: int = 8  # links whose scripts may run at the same time
    routes_debounce: float = 0.2  # seconds of quiet before a coalesced (routes.d) run starts
    shutdown_grace: float = 10.0
    allowed_uids: frozenset[int] = frozenset({0})  # owners allowed besides root: the daemon's uid
    output_limit: int = 65536  # bytes of output kept (the tail) per script
    runtime_dir: str = ""  # where too-large values go by file ("" = the system's temp dir)


def valid_directory(directory: str) -> bool:
    """Defence in depth: the core maps states through a fixed enum, never joins input."""
    return _DIRECTORY.fullmatch(directory) is not None


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


def _writable_reason(mode: int, what: str) -> str:
    if mode & stat.S_IWOTH:
        return f"{what}world-writable"
    if mode & stat.S_IWGRP:
        return f"{what}group-writable"
    return ""


def _owner_ok(settings: ScriptSettings, uid: int) -> bool:
    return uid == 0 or uid in settings.allowed_uids


def _directory_reason(settings: ScriptSettings, st: os.stat_result, what: str) -> str:
    """Whoever can write a directory can swap the scripts in it, whatever their own modes."""
    reason = _writable_reason(st.st_mode, f"{what} is ")
    if not reason and not _owner_ok(settings, st.st_uid):
        reason = f"{what} not owned by root"
    return reason


def _file_reason(settings: ScriptSettings, st: os.stat_result) -> str:
    mode = st.st_mode
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if not _owner_ok(settings, st.st_uid):
        return "not owned by root"
    if mode & stat.S_ISUID:
        return "setuid"
    if mode & stat.S_ISGID:
        return "setgid"
    reason = _writable_reason(mode, "")
    if reason:
        return reason
    if not mode & stat.S_IXUSR:
        return "not executable"
    return ""


def _target_reason(settings: ScriptSettings, path: Path) -> str:
    """A symlink runs its target, so the target's directory must be as safe as ours."""
    parent = os.path.dirname(os.path.realpath(path))
    try:
        st = os.stat(parent)
    except OSError as err:
        return f"cannot stat symlink target directory: {err.strerror}"
    return _directory_reason(settings, st, "symlink target directory")


def check_file(
    settings: ScriptSettings, path: Path, dir_reason: str = ""
) -> tuple[str, os.stat_result | None]:
    """Why *path* must not run ("" if it may), and the stat the verdict was based on."""
    if is_leftover(path.name):
        try:
            return LEFTOVER, os.lstat(path)
        except OSError:
            return LEFTOVER, None
    try:
        st = os.stat(path)  # follows symlinks: the target is what would run
    except FileNotFoundError:
        return "broken symlink", None
    except OSError as err:
        return f"cannot stat: {err.strerror}", None
    is_link = path.is_symlink()
    if is_link and os.path.realpath(path) == _MASK_TARGET:
        return MASKED, st
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file", st
    reason = dir_reason or (_target_reason(settings, path) if is_link else "")
    return reason or _file_reason(settings, st), st


def _list_directory(settings: ScriptSettings, path: Path) -> tuple[list[str], str]:
    """The entry names in *path* and the directory's own problem ("" if none)."""
    try:
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode):
            return [], "not a directory"
        names = os.listdir(path)
    except FileNotFoundError:
        return [], ""  # no scripts for this state: the common case
    except OSError as err:
        return [], f"cannot read directory: {err.strerror}"
    return names, _directory_reason(settings, st, "directory")


def _warn(memory: WarnMemory | None, path: str, st: os.stat_result | None, reason: str) -> None:
    if memory is None:
        return
    if reason == MASKED:
        log.debug(kv("script.masked", path=path))
    elif memory.first_time(path, st, reason):
        log.warning(kv("script.skipped", path=path, reason=reason))


def _sort_key(name: str) -> bytes:
    return os.fsencode(name)


def _collect(
    settings: ScriptSettings, directory: str, memory: WarnMemory | None
) -> list[tuple[str, Path, str]]:
    """(name, path, directory problem) for every entry of every base, in base order."""
    found: list[tuple[str, Path, str]] = []
    for base in settings.script_dirs:
        dpath = Path(base) / f"{directory}.d"
        names, problem = _list_directory(settings, dpath)
        if not names and problem:
            _warn(memory, str(dpath), None, problem)
        found.extend((name, dpath / name, problem) for name in sorted(names, key=_sort_key))
    return found


def discover(
    settings: ScriptSettings, directory: str, *, memory: WarnMemory | None = None
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
    for name, path, problem in _collect(settings, directory, memory):
        winner = winners.setdefault(name, path)
        if winner != path:
            reason, st = f"shadowed by {winner}", None
        else:
            reason, st = check_file(settings, path, problem)
            if reason:
                _warn(memory, str(path), st, reason)
            elif memory is not None:
                memory.forget(str(path))  # so breaking it again later warns again
        if not reason and winner == path:
            runnable.append(path)
        verdicts.append(ScriptVerdict(directory, name, str(path), not reason, reason))
    runnable.sort(key=lambda p: _sort_key(p.name))
    verdicts.sort(key=lambda v: _sort_key(v.name))  # stable: the winner stays first
    return runnable, verdicts


def scan_all(settings: ScriptSettings, directories: Iterable[str]) -> list[ScriptVerdict]:
    """Every file of every given directory with its verdict (for the API; logs nothing)."""
    verdicts: list[ScriptVerdict] = []
    for directory in directories:
        if valid_directory(directory):
            verdicts.extend(discover(settings, directory)[1])
    return verdicts
