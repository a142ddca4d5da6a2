"""How a NetworkManager property dict (``a{sv}``) is checked, field by field (pure, never raises).

Shared by the decoders of netevd.sources.networkmanager.decode and
netevd.sources.networkmanager.active: a dict whose keys are not strings is malformed; a followed
property is checked by its own function (netevd.sources.networkmanager.values); one that fails
makes the whole dict malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from dbus_fast import Variant

from netevd.bus.values import Malformation, Malformed

T = TypeVar("T")
Check = Callable[[object], str | Malformed]


def fields_of(values: object) -> Mapping[str, object] | Malformed:
    if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
        return Malformed(Malformation.SIGNATURE, "properties are not a{sv}")
    return values


def numbered(name: str, namer: Check) -> Check:
    """A check of a ``u`` variant named through *namer*."""

    def check(value: object) -> str | Malformed:
        if not isinstance(value, Variant) or value.signature != "u":
            got = value.signature if isinstance(value, Variant) else type(value).__name__
            return Malformed(Malformation.TYPE, f"{name} has type {got!r}, not 'u'")
        return namer(value.value)

    return check


def checked(
    fields: Mapping[str, object], checks: Mapping[str, tuple[str, Check]]
) -> dict[str, str] | Malformed:
    """{field: checked value} for every property of *checks* present in *fields*."""
    found: dict[str, str] = {}
    for field, (name, check) in checks.items():
        if name in fields:
            value = check(fields[name])
            if isinstance(value, Malformed):
                return value
            found[field] = value
    return found


def optional(
    fields: Mapping[str, object], name: str, check: Callable[[object], T | Malformed]
) -> T | Malformed | None:
    """*check* of property *name*, or None when the dict does not carry it."""
    return check(fields[name]) if name in fields else None
