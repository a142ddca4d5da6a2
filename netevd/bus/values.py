"""Why a peer's message on the bus was not believed, and the bus daemon's own NameOwnerChanged.

Everything a D-Bus source decodes is input from a peer. What fails a check is :class:`Malformed`,
with a reason from one fixed set (:class:`Malformation`) so it can be counted without unbounded
labels (``netevd_dbus_rejected_total``); what is well-formed but not followed is
:class:`Ignored`. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Malformation(StrEnum):
    """Why a message was not believed (a fixed set: usable as a metric label)."""

    SIGNATURE = "signature"  # wrong D-Bus signature for the member
    PATH = "path"  # an object path the service does not use for that kind of object
    TYPE = "type"  # a property of the wrong D-Bus type
    VALUE = "value"  # a name, id, uuid, address or state word that is not one
    LINK = "link"  # networkd: a ListLinks entry whose index, name or path is absurd
    JSON = "json"  # networkd: Describe() that is not one JSON object for that link
    STATE = "state"  # NetworkManager: a state number outside NetworkManager 1.42's enum


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: Malformation
    detail: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """Well-formed, but nothing netevd follows (another interface, an empty change)."""

    why: str


def decode_name_owner_changed(signature: str, body: Sequence[object]) -> tuple[str, str] | None:
    """``NameOwnerChanged(s name, s old, s new)`` → (name, new owner) or None if not that."""
    if signature != "sss" or len(body) != 3:
        return None
    name, _old, new = body
    return (str(name), str(new))
