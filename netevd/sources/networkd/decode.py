"""What systemd-networkd says on the bus, decoded and type-checked (pure: no I/O).

Everything here is input from a peer on the system bus. A value is trusted only after its type,
length and alphabet are checked; a message that fails any check is *malformed* as a whole (one
bad property in a signal drops the signal: a peer that lies about one value is not believed
about the others), with a reason from a fixed set so it can be counted without unbounded labels.
Unknown property names are ignored (networkd adds properties over time). Well-formed but unknown
state words pass through: the core maps states through a fixed enum and counts the unknown ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dbus_fast import Variant

from netevd.bus.values import Ignored, Malformation, Malformed
from netevd.core.environment import kernel_name_problem
from netevd.core.events import Properties
from netevd.core.networkd_states import LINK_PROPERTIES, NETWORKD_MANAGER_PROPERTIES
from netevd.sources.networkd.paths import (
    NETWORK1_PATH,
    PathError,
    ifindex_from_link_path,
    is_link_path,
)

PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
LINK_INTERFACE = "org.freedesktop.network1.Link"
MANAGER_INTERFACE = "org.freedesktop.network1.Manager"
PROPERTIES_CHANGED_SIGNATURE = "sa{sv}as"
STATE_RE = re.compile(r"[a-z0-9-]{1,64}")  # networkd's state words: "routable", "no-carrier"
MAX_DESCRIBE = 16 * 1024 * 1024  # far above any real link; bounds what a liar can make us keep


@dataclass(frozen=True, slots=True)
class LinkUpdate:
    index: int
    properties: Properties


@dataclass(frozen=True, slots=True)
class ManagerUpdate:
    properties: Properties


DecodedUpdate = LinkUpdate | ManagerUpdate | Ignored | Malformed


@dataclass(frozen=True, slots=True)
class ListedLink:
    index: int
    name: str
    path: str


def state_problem(name: str, value: object) -> Malformed | None:
    """Why *value* (a Variant from the bus) is not a believable state string for *name*."""
    if not isinstance(value, Variant) or value.signature != "s" or not isinstance(value.value, str):
        signature = value.signature if isinstance(value, Variant) else type(value).__name__
        return Malformed(Malformation.TYPE, f"{name} has type {signature!r}, not 's'")
    if value.value and not STATE_RE.fullmatch(value.value):
        shown = value.value[:80]
        return Malformed(Malformation.VALUE, f"{name}={shown!r} is not a state word")
    return None


def decode_properties(values: object, wanted: Iterable[str]) -> Properties | Malformed:
    """The *wanted* state properties of an ``a{sv}`` dict, in *wanted*'s order."""
    if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
        return Malformed(Malformation.SIGNATURE, "properties are not a{sv}")
    found: list[tuple[str, str]] = []
    for name in wanted:
        if name not in values:
            continue
        value = values[name]
        if problem := state_problem(name, value):
            return problem
        if value.value:  # networkd leaves some states empty (OnlineState of lo): not known
            found.append((name, value.value))
    return tuple(found)


def decode_properties_changed(path: str, signature: str, body: Sequence[object]) -> DecodedUpdate:
    """``PropertiesChanged(s interface, a{sv} changed, as invalidated)`` on a network1 object."""
    if signature != PROPERTIES_CHANGED_SIGNATURE or len(body) != 3:
        return Malformed(Malformation.SIGNATURE, f"PropertiesChanged with signature {signature!r}")
    interface, changed, _invalidated = body
    if path == NETWORK1_PATH:
        if interface != MANAGER_INTERFACE:
            return Ignored(f"interface {interface!r} on the manager")
        props = decode_properties(changed, NETWORKD_MANAGER_PROPERTIES)
        if isinstance(props, Malformed):
            return props
        return ManagerUpdate(props) if props else Ignored("no manager state changed")
    if not is_link_path(path):
        return Ignored(f"object {path!r} is neither the manager nor a link")
    try:
        index = ifindex_from_link_path(path)
    except PathError as exc:
        return Malformed(Malformation.PATH, str(exc))
    if interface != LINK_INTERFACE:
        return Ignored(f"interface {interface!r} on a link")  # DHCPServer, say
    props = decode_properties(changed, LINK_PROPERTIES)
    if isinstance(props, Malformed):
        return props
    return LinkUpdate(index, props) if props else Ignored("no link state changed")


def decode_link_list(signature: str, body: Sequence[object]) -> list[ListedLink] | Malformed:
    """``Manager.ListLinks() -> a(iso)``: every entry checked, its path against its index."""
    if signature != "a(iso)" or len(body) != 1 or not isinstance(body[0], list):
        return Malformed(Malformation.SIGNATURE, f"ListLinks returned {signature!r}")
    links: list[ListedLink] = []
    for entry in body[0]:
        index, name, path = entry
        try:
            if ifindex_from_link_path(path) != index:
                return Malformed(Malformation.LINK, f"link {index} listed with path {path!r}")
        except PathError as exc:
            return Malformed(Malformation.PATH, str(exc))
        if name_problem := _name_problem(name):
            return Malformed(Malformation.LINK, f"link {index}: {name_problem}")
        links.append(ListedLink(index, name, path))
    return links


def _name_problem(name: str) -> str | None:
    if kernel_name_problem(name):
        return f"name {name[:40]!r} is not an interface name"
    return None


def decode_describe(signature: str, body: Sequence[object], index: int) -> str | Malformed:
    """``Link.Describe() -> s``: kept verbatim once it parses as that link's JSON object."""
    if signature != "s" or len(body) != 1 or not isinstance(body[0], str):
        return Malformed(Malformation.SIGNATURE, f"Describe returned {signature!r}")
    text = body[0]
    if len(text) > MAX_DESCRIBE:
        return Malformed(Malformation.JSON, f"Describe of link {index} is {len(text)} bytes")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return Malformed(Malformation.JSON, f"Describe of link {index} is not JSON: {exc}")
    if not isinstance(doc, dict) or doc.get("Index", index) != index:
        return Malformed(Malformation.JSON, f"Describe of link {index} describes something else")
    return text
