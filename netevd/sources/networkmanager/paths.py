"""NetworkManager's D-Bus object paths (pure).

NetworkManager numbers its objects per kind: ``/org/freedesktop/NetworkManager/Devices/2``,
``.../ActiveConnection/1``, ``.../IP4Config/3``, a profile ``.../Settings/4``. The number is
NetworkManager's own counter, not an ifindex. ``/`` stands for "no object" where a property holds
a path. A path from the bus is input from outside: only the canonical decimal form (no sign, no
leading zero) is accepted, so two paths never name the same object.
"""

from __future__ import annotations

import re

NM_PATH = "/org/freedesktop/NetworkManager"
OBJECT_MANAGER_PATH = "/org/freedesktop"
DEVICE_PREFIX = NM_PATH + "/Devices/"
ACTIVE_PREFIX = NM_PATH + "/ActiveConnection/"
IP4_PREFIX = NM_PATH + "/IP4Config/"
IP6_PREFIX = NM_PATH + "/IP6Config/"
DHCP4_PREFIX = NM_PATH + "/DHCP4Config/"
DHCP6_PREFIX = NM_PATH + "/DHCP6Config/"
SETTINGS_PATH = NM_PATH + "/Settings"
SETTINGS_CONNECTION_PREFIX = SETTINGS_PATH + "/"  # a profile: .../Settings/N
_NUMBER_RE = re.compile(r"[1-9][0-9]{0,9}")
MAX_NUMBER = 2**32 - 1


def numbered_path(prefix: str, path: object) -> int | None:
    """The number N of ``<prefix>N``, or None when *path* is anything else."""
    if not isinstance(path, str) or not path.startswith(prefix):
        return None
    text = path[len(prefix) :]
    if not _NUMBER_RE.fullmatch(text) or int(text) > MAX_NUMBER:
        return None
    return int(text)


def device_path(number: int) -> str:
    return f"{DEVICE_PREFIX}{number}"
