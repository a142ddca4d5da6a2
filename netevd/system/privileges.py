"""Dropping root: become ``system.user`` and keep only CAP_NET_ADMIN.

The bounding set is reduced to CAP_NET_ADMIN first (that needs CAP_SETPCAP, so it happens
while still root), then PR_SET_KEEPCAPS carries the permitted set across setuid, and capset
leaves CAP_NET_ADMIN effective and permitted, nothing inheritable and nothing ambient: scripts
started afterwards get no capabilities (execve of a non-root program clears them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import pwd
import resource
import stat
from dataclasses import dataclass

from netevd.errors import RuntimeFailure, UsageError

log = logging.getLogger("netevd.privileges")

CAP_NET_ADMIN = 12
PR_SET_KEEPCAPS = 8
PR_SET_NO_NEW_PRIVS = 38
NOFILE_TARGET = 65536  # what the unit sets (LimitNOFILE=65536); scripts inherit it
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


@dataclass(frozen=True)
class Dropped:
    user: str
    uid: int
    gid: int


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise RuntimeFailure(f"cannot drop privileges: {what} failed: {os.strerror(err)}")


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            return int(fh.read())
    except OSError:
        return 40


def _keep_only_net_admin(libc: ctypes.CDLL) -> None:
    for cap in range(_last_cap() + 1):
        if cap != CAP_NET_ADMIN:
            _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")


def _capset(libc: ctypes.CDLL) -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = 1 << CAP_NET_ADMIN
    _check(libc.capset(ctypes.byref(header), data), "capset")


def clear_ambient() -> None:
    """Scripts must not inherit capabilities. Under the shipped unit (User=netevd,
    AmbientCapabilities=CAP_NET_ADMIN) the ambient set would pass CAP_NET_ADMIN to every
    script (upstream's bug); clearing it keeps the daemon's own effective and permitted sets."""
    if _libc().prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
        log.warning("privileges.ambient_not_cleared error=%r", os.strerror(ctypes.get_errno()))


def no_new_privileges() -> None:
    """Nothing the daemon or a script runs may gain privileges by execve (setuid binaries,
    file capabilities), whatever the unit says: set here, inherited by every script."""
    _check(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def raise_nofile(target: int = NOFILE_TARGET) -> tuple[int, int]:
    """Raise the soft NOFILE limit towards the hard one (at most *target*); (soft, hard).

    systemd's default soft limit is 1024, which idle API connections alone could use up.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = target if hard == resource.RLIM_INFINITY else min(hard, target)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError) as exc:
            log.warning("limits.nofile.unchanged soft=%d hard=%d error=%r", soft, hard, str(exc))
    return soft, hard


def _own_state_dir(state_dir: str, uid: int, gid: int) -> None:
    """Create *state_dir* and give it to the daemon's user, never through a symlink."""
    try:
        os.makedirs(state_dir, mode=0o755, exist_ok=True)
        fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise RuntimeFailure(
            f"system.state_dir {state_dir} cannot be created or opened: {exc.strerror}"
            + (" (it is a symlink; netevd does not follow it)" if _is_link(state_dir) else "")
        ) from None
    try:
        os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


def _is_link(path: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def drop_privileges(user: str, state_dir: str = "") -> Dropped | None:
    """Become *user* with CAP_NET_ADMIN only; None when there is nothing to do.

    Nothing to do: not root, or *user* is "" or "root". A user that does not exist is a
    configuration error (UsageError: exit 2): carrying on as root would fail open.
    """
    if os.geteuid() != 0 or user in ("", "root"):
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise UsageError(
            f"system.user: no user named {user!r}; create it (systemd/netevd.sysusers.conf), "
            'or set system.user to "" or root to keep running as root'
        ) from None
    if state_dir:
        # The state directory (remembered tables) must stay writable after the drop.
        _own_state_dir(state_dir, entry.pw_uid, entry.pw_gid)
    libc = _libc()
    _keep_only_net_admin(libc)
    _check(libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "PR_SET_KEEPCAPS")
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    _capset(libc)
    _check(libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "clearing PR_SET_KEEPCAPS")
    log.info(
        "privileges.dropped user=%s uid=%d gid=%d keep=CAP_NET_ADMIN",
        user,
        entry.pw_uid,
        entry.pw_gid,
    )
    return Dropped(user, entry.pw_uid, entry.pw_gid)
