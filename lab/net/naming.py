"""Per-run name prefixes and the kernel's rules for interface names."""

from __future__ import annotations

import re
import secrets
import string

IFNAMSIZ = 15  # bytes, without the trailing NUL
_ALPHABET = string.ascii_lowercase + string.digits
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{1,10}-$")
_SYSCTL_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_.:@-]+)+$")


def new_prefix(stem: str = "nv") -> str:
    """A fresh per-run prefix such as ``nv4k2q-``: short, so it fits in an interface name."""
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(4))
    return f"{stem}{tail}-"


def prefix_problem(prefix: str) -> str | None:
    if not PREFIX_RE.match(prefix):
        return (
            f"prefix {prefix!r} must be 2 to 11 lowercase letters or digits, "
            "starting with a letter, followed by '-'"
        )
    return None


def link_name_problem(name: str) -> str | None:
    """Why Linux would refuse *name* as an interface name, or None when it is fine."""
    size = len(name.encode())
    if size == 0:
        return "link name must not be empty"
    if size > IFNAMSIZ:
        return f"link name {name!r} is {size} bytes; Linux allows at most {IFNAMSIZ}"
    if name in (".", "..") or any(c in name for c in "/:") or any(c.isspace() for c in name):
        return f"link name {name!r} contains '/', ':' or white space, which Linux does not allow"
    return None


def sysctl_key_problem(key: str) -> str | None:
    if not _SYSCTL_RE.match(key) or ".." in key:
        return f"sysctl key {key!r} must be dotted words like net.ipv4.ip_forward"
    return None
