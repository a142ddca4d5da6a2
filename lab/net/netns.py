"""Network namespace primitives: create, remove, find the processes inside, write sysctls.

Ownership is exact: a namespace belongs to whoever created its name, and the processes "in" it
are those whose ``/proc/PID/ns/net`` is that very namespace (same device and inode), never a
name pattern.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import threading
import time
from pathlib import Path

from pyroute2 import netns as pr_netns

from lab.errors import LabError

NETNS_DIR = Path("/run/netns")


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def list_netns() -> list[str]:
    try:
        return sorted(entry.name for entry in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def create_netns(name: str) -> None:
    """Create *name*; fails (LabError) if it exists, so two runs never share one."""
    if netns_path(name).exists():
        raise LabError(f"network namespace {name!r} already exists")
    try:
        pr_netns.create(name)
    except OSError as exc:
        raise LabError(f"cannot create network namespace {name!r}: {exc}") from exc


def remove_netns(name: str) -> None:
    """Kill what runs in *name*, then remove it. Missing is fine (idempotent)."""
    if not netns_path(name).exists():
        return
    kill_netns_processes(name)
    with contextlib.suppress(FileNotFoundError):
        pr_netns.remove(name)


def _ns_id(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def netns_pids(name: str) -> list[int]:
    """PIDs of the processes whose network namespace is *name*."""
    target = _ns_id(netns_path(name))
    if target is None:
        return []
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _ns_id(f"/proc/{entry.name}/ns/net") == target:
            pids.append(int(entry.name))
    return pids


def kill_netns_processes(name: str, grace: float = 3.0) -> None:
    """SIGTERM every process in *name*, SIGKILL what is left after *grace* seconds."""
    pids = netns_pids(name)
    if not pids:
        return
    _signal_all(pids, signal.SIGTERM)
    if _wait_gone(pids, grace):
        return
    _signal_all(netns_pids(name), signal.SIGKILL)
    if not _wait_gone(netns_pids(name), grace):
        raise LabError(f"processes {netns_pids(name)} in {name!r} survived SIGKILL")


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait on pidfds (no polling) until every pid has exited; True if they all did.

    A pidfd turns readable when the process exits; reaping stays with its parent.
    """
    deadline = time.monotonic() + timeout
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            remaining = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return False
        finally:
            os.close(fd)
    return True


def write_sysctl(ns: str, key: str, value: str) -> None:
    """Write ``/proc/sys/<key>`` as seen from namespace *ns* (root namespace when empty).

    Network sysctls resolve against the calling thread's namespace, so a short-lived thread
    enters *ns* and writes; the rest of the process never changes namespace.
    """
    path = "/proc/sys/" + key.replace(".", "/")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            if ns:
                pr_netns.setns(str(netns_path(ns)), flags=0)
            with open(path, "w") as fh:
                fh.write(value)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker, name=f"sysctl-{ns}")
    thread.start()
    thread.join()
    if errors:
        exc = errors[0]
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
            reason = "no such sysctl"
        raise LabError(f"sysctl {key}={value} in {ns or 'root'!r} failed: {reason}")
