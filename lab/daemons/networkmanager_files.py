"""The files the lab's NetworkManager reads: its NetworkManager.conf and keyfile profiles."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from lab.errors import LabError

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
IFACE_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_METHODS = {"auto", "manual", "link-local", "disabled", "shared", "ignore", "dhcp"}


def keyfile(
    conn_id: str,
    iface: str,
    *,
    ipv4: str = "auto",
    ipv6: str = "disabled",
    autoconnect: bool = True,
    uuid: str | None = None,
    extra: str = "",
) -> str:
    """An ethernet connection profile in NetworkManager's keyfile format."""
    if not _ID_RE.fullmatch(conn_id):
        raise LabError(f"connection id {conn_id!r}: letters, digits, '_', '.', '-' only")
    if not IFACE_RE.fullmatch(iface):
        raise LabError(f"{iface!r} is not an interface name the lab uses")
    if ipv4 not in _METHODS or ipv6 not in _METHODS:
        raise LabError(f"unknown IP method in ipv4={ipv4!r} ipv6={ipv6!r}")
    lines = [
        "[connection]",
        f"id={conn_id}",
        *([f"uuid={uuid}"] if uuid else []),
        "type=ethernet",
        f"interface-name={iface}",
        f"autoconnect={'true' if autoconnect else 'false'}",
        "",
        "[ipv4]",
        f"method={ipv4}",
        "",
        "[ipv6]",
        f"method={ipv6}",
        "",
    ]
    return "\n".join(lines) + extra


def nm_config(
    conns: Path, managed: Iterable[str], log_level: str, hostname_mode: str = "none"
) -> str:
    """NetworkManager.conf: keyfile only, internal DHCP, hands off DNS, hostname and the rest."""
    names = ";".join(f"except:interface-name:{name}" for name in managed) or "*"
    return f"""[main]
plugins=keyfile
dhcp=internal
auth-polkit=false
no-auto-default=*
dns=none
rc-manager=unmanaged
systemd-resolved=false
hostname-mode={hostname_mode}

[keyfile]
path={conns}
unmanaged-devices={names}

[logging]
level={log_level}

[connectivity]
enabled=false
"""
