"""NetworkManager's active connections, VPN connections and profiles, decoded (pure, never raises).

- ``org.freedesktop.NetworkManager.Connection.Active`` (``.../ActiveConnection/N``): the
  profile's ``Id`` and ``Uuid``, its settings connection (``Connection``: CONNECTION_DBUS_PATH),
  ``StateFlags`` (NM_ACTIVATION_STATE_FLAG_EXTERNAL, 0x80: nm_active_connection_get_state_flags()
  sets it exactly when the activation type is external, which is what nm-dispatcher.c's
  _dispatcher_call turns into CONNECTION_EXTERNAL=1), and for a VPN (``Vpn``) its ``Devices``
  (the parent device, while not deactivated) and ``Ip4Config``/``Ip6Config``;
- ``org.freedesktop.NetworkManager.VPN.Connection`` on the same object: ``VpnState``;
- ``org.freedesktop.NetworkManager.Settings.Connection`` (``.../Settings/N``): ``Filename``
  (CONNECTION_FILENAME; "" for a profile kept in memory only).

As everywhere in the source, one bad value makes the whole dict malformed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from dbus_fast import Variant

from netevd.bus.values import Malformation, Malformed
from netevd.sources.networkmanager.enums import ACTIVATION_STATE_FLAG_EXTERNAL
from netevd.sources.networkmanager.fields import Check, checked, fields_of, numbered, optional
from netevd.sources.networkmanager.paths import (
    DEVICE_PREFIX,
    IP4_PREFIX,
    IP6_PREFIX,
    SETTINGS_CONNECTION_PREFIX,
    numbered_path,
)
from netevd.sources.networkmanager.values import (
    connection_id_value,
    object_value,
    text_value,
    uuid_value,
    vpn_state_name,
)

MAX_PATH = 4096  # PATH_MAX
MAX_DEVICES = 64  # an active connection's Devices: one, or a few for a bond's ports
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def bool_value(name: str, value: object) -> bool | Malformed:
    if (
        not isinstance(value, Variant)
        or value.signature != "b"
        or not isinstance(value.value, bool)
    ):
        got = value.signature if isinstance(value, Variant) else type(value).__name__
        return Malformed(Malformation.TYPE, f"{name} has type {got!r}, not 'b'")
    return value.value


def u32_value(name: str, value: object) -> int | Malformed:
    number = value.value if isinstance(value, Variant) and value.signature == "u" else None
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 2**32:
        return Malformed(Malformation.TYPE, f"{name} is not a u32")
    return number


def filename_value(value: object) -> str | Malformed:
    """``Settings.Connection.Filename``: the profile's file, "" for one kept in memory only.
    An absolute, normalised path without control characters, as NetworkManager writes them."""
    text = text_value("Filename", value)
    if isinstance(text, Malformed) or not text:
        return text
    parts = text.split("/")
    if (
        not text.startswith("/")
        or len(text.encode()) > MAX_PATH
        or CONTROL_RE.search(text)
        or any(part in ("", ".", "..") for part in parts[1:])
    ):
        return Malformed(Malformation.VALUE, f"Filename {text[:60]!r} is not a profile's file")
    return text


def object_list_value(
    name: str, value: object, *, prefix: str, limit: int = MAX_DEVICES
) -> tuple[str, ...] | Malformed:
    """An ``ao`` of canonical paths under *prefix*, at most *limit*, each once."""
    if (
        not isinstance(value, Variant)
        or value.signature != "ao"
        or not isinstance(value.value, list)
    ):
        return Malformed(Malformation.TYPE, f"{name} is not ao")
    paths = value.value
    for path in paths[: limit + 1]:
        if numbered_path(prefix, path) is None:
            return Malformed(Malformation.PATH, f"{name} {str(path)[:80]!r} is not under {prefix}")
    if len(paths) > limit or len(set(paths)) != len(paths):
        return Malformed(Malformation.VALUE, f"{name} lists {len(paths)} objects, or one twice")
    return tuple(paths)


@dataclass(frozen=True, slots=True)
class ConnectionProps:
    """Followed properties of an active connection (with its VPN.Connection ones); None = not
    in the dict. Object paths are ``""`` where NetworkManager says ``/``."""

    id: str | None = None
    uuid: str | None = None
    connection: str | None = None  # its settings connection (a profile)
    external: bool | None = None  # StateFlags & 0x80
    vpn: bool | None = None
    devices: tuple[str, ...] | None = None
    ip4_config: str | None = None
    ip6_config: str | None = None
    vpn_state: str | None = None  # VPN.Connection's VpnState


@dataclass(frozen=True, slots=True)
class SettingsConnectionProps:
    """A profile: its file ("" for one kept in memory only)."""

    filename: str | None = None


_CHECKS: Mapping[str, tuple[str, Check]] = {
    "id": ("Id", connection_id_value),
    "uuid": ("Uuid", uuid_value),
    "connection": (
        "Connection",
        partial(object_value, "Connection", prefix=SETTINGS_CONNECTION_PREFIX),
    ),
    "ip4_config": ("Ip4Config", partial(object_value, "Ip4Config", prefix=IP4_PREFIX)),
    "ip6_config": ("Ip6Config", partial(object_value, "Ip6Config", prefix=IP6_PREFIX)),
}


def decode_connection_props(values: object) -> ConnectionProps | Malformed:
    fields = fields_of(values)
    if isinstance(fields, Malformed):
        return fields
    found = checked(fields, _CHECKS)
    vpn = optional(fields, "Vpn", partial(bool_value, "Vpn"))
    flags = optional(fields, "StateFlags", partial(u32_value, "StateFlags"))
    devices = optional(
        fields, "Devices", partial(object_list_value, "Devices", prefix=DEVICE_PREFIX)
    )
    if isinstance(found, Malformed):
        return found
    if isinstance(vpn, Malformed):
        return vpn
    if isinstance(flags, Malformed):
        return flags
    if isinstance(devices, Malformed):
        return devices
    return ConnectionProps(
        found.get("id"),
        found.get("uuid"),
        found.get("connection"),
        None if flags is None else bool(flags & ACTIVATION_STATE_FLAG_EXTERNAL),
        vpn,
        devices,
        found.get("ip4_config"),
        found.get("ip6_config"),
    )


def decode_vpn_props(values: object) -> ConnectionProps | Malformed:
    """``VPN.Connection``: its ``VpnState`` (``Banner`` is not followed)."""
    fields = fields_of(values)
    if isinstance(fields, Malformed) or "VpnState" not in fields:
        return fields if isinstance(fields, Malformed) else ConnectionProps()
    state = numbered("VpnState", vpn_state_name)(fields["VpnState"])
    return state if isinstance(state, Malformed) else ConnectionProps(vpn_state=state)


def decode_settings_connection_props(values: object) -> SettingsConnectionProps | Malformed:
    fields = fields_of(values)
    if isinstance(fields, Malformed) or "Filename" not in fields:
        return fields if isinstance(fields, Malformed) else SettingsConnectionProps()
    filename = filename_value(fields["Filename"])
    return filename if isinstance(filename, Malformed) else SettingsConnectionProps(filename)
