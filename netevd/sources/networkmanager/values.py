"""NetworkManager's values checked one by one (pure: no I/O, never raises).

Everything here is input from a peer on the system bus. A value is believed only after its
D-Bus type, range and alphabet are checked; what fails is :class:`Malformed`, with a reason from
a fixed set so it can be counted without unbounded labels. Numbers become words through the
tables of :mod:`netevd.sources.networkmanager.enums`: a device, global or connectivity state
outside them is rejected as such (``state``), never passed on as a number.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from dbus_fast import Variant

from netevd.bus.values import Malformation, Malformed
from netevd.core.environment import kernel_name_problem
from netevd.sources.networkmanager.enums import (
    CONNECTIVITY,
    DEVICE_STATES,
    NM_STATES,
    VPN_STATES,
    active_reason_name,
    reason_name,
)
from netevd.sources.networkmanager.paths import numbered_path

MAX_TEXT = 256  # a connection id; NetworkManager sets no limit, a liar gets this one
MAX_ADDRESSES = 4096
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# -- numbers -----------------------------------------------------------------------------------


def _u32(value: object) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32
    return value if ok else None  # type: ignore[return-value]


def _enum(table: Mapping[int, str], what: str, value: object) -> str | Malformed:
    number = _u32(value)
    if number is None:
        return Malformed(Malformation.TYPE, f"{what} {value!r:.40} is not a u32")
    if number not in table:
        return Malformed(Malformation.STATE, f"{what} {number} is not one NetworkManager has")
    return table[number]


def device_state_name(value: object) -> str | Malformed:
    return _enum(DEVICE_STATES, "device state", value)


def nm_state_name(value: object) -> str | Malformed:
    return _enum(NM_STATES, "NetworkManager state", value)


def connectivity_name(value: object) -> str | Malformed:
    return _enum(CONNECTIVITY, "connectivity", value)


def vpn_state_name(value: object) -> str | Malformed:
    return _enum(VPN_STATES, "VPN state", value)


def vpn_reason_name(value: object) -> str | Malformed:
    """VpnStateChanged's reason (an NMActiveConnectionStateReason), ``reason-N`` if newer."""
    number = _u32(value)
    if number is None:
        return Malformed(Malformation.TYPE, f"VPN state reason {value!r:.40} is not a u32")
    name = active_reason_name(number)
    return name if name is not None else Malformed(Malformation.VALUE, f"VPN reason {number}")


def device_reason_name(value: object) -> str | Malformed:
    number = _u32(value)
    if number is None:
        return Malformed(Malformation.TYPE, f"state reason {value!r:.40} is not a u32")
    name = reason_name(number)
    return name if name is not None else Malformed(Malformation.VALUE, f"state reason {number}")


# -- values ------------------------------------------------------------------------------------


def interface_name_problem(name: str) -> str | None:
    """Why *name* cannot be a Linux interface name (the kernel's rule), or None."""
    return f"{name[:40]!r} is not an interface name" if kernel_name_problem(name) else None


def text_value(name: str, value: object, *, signature: str = "s") -> str | Malformed:
    if not isinstance(value, Variant) or value.signature != signature:
        got = value.signature if isinstance(value, Variant) else type(value).__name__
        return Malformed(Malformation.TYPE, f"{name} has type {got!r}, not {signature!r}")
    if not isinstance(value.value, str):
        return Malformed(Malformation.TYPE, f"{name} is not a string")
    return value.value


def iface_value(name: str, value: object) -> str | Malformed:
    text = text_value(name, value)
    if isinstance(text, str) and text and (problem := interface_name_problem(text)):
        return Malformed(Malformation.VALUE, f"{name}: {problem}")
    return text


def object_value(name: str, value: object, *, prefix: str) -> str | Malformed:
    """An object path under *prefix*, or "" for NetworkManager's "/" (none)."""
    text = text_value(name, value, signature="o")
    if isinstance(text, Malformed) or text == "/":
        return "" if text == "/" else text
    if numbered_path(prefix, text) is None:
        return Malformed(Malformation.PATH, f"{name} {text[:80]!r} is not under {prefix}")
    return text


def connection_id_value(value: object) -> str | Malformed:
    text = text_value("Id", value)
    if isinstance(text, str) and (len(text) > MAX_TEXT or _CONTROL_RE.search(text)):
        return Malformed(Malformation.VALUE, f"connection id {text[:40]!r} is not believable")
    return text


def uuid_value(value: object) -> str | Malformed:
    text = text_value("Uuid", value)
    if isinstance(text, str) and text and not UUID_RE.fullmatch(text):
        return Malformed(Malformation.VALUE, f"Uuid {text[:40]!r} is not a uuid")
    return text


def gateway_value(value: object, version: int) -> str | Malformed:
    text = text_value("Gateway", value)
    if isinstance(text, Malformed) or not text:
        return text
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return Malformed(Malformation.VALUE, f"Gateway {text[:60]!r} is not an address")
    if address.version != version:
        return Malformed(Malformation.VALUE, f"Gateway {text!r} is not IPv{version}")
    return text


def address_data_value(value: object, version: int) -> tuple[str, ...] | Malformed:
    """``AddressData aa{sv}``: each entry's ``address`` (s) and ``prefix`` (u), checked."""
    if not isinstance(value, Variant) or value.signature != "aa{sv}":
        return Malformed(Malformation.TYPE, "AddressData is not aa{sv}")
    entries = value.value
    if not isinstance(entries, list) or len(entries) > MAX_ADDRESSES:
        return Malformed(Malformation.VALUE, "AddressData is not a list of bounded size")
    found: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            return Malformed(Malformation.TYPE, "an AddressData entry is not a dict")
        address = text_value("address", entry.get("address"))
        prefix = entry.get("prefix")
        if isinstance(address, Malformed):
            return address
        if not isinstance(prefix, Variant) or prefix.signature != "u":
            return Malformed(Malformation.TYPE, "an AddressData prefix is not a u32")
        try:
            network = ipaddress.ip_interface(f"{address}/{prefix.value}")
        except ValueError:
            return Malformed(Malformation.VALUE, f"{address[:60]!r}/{prefix.value} is no address")
        if network.version != version:
            return Malformed(Malformation.VALUE, f"{address!r} is not IPv{version}")
        found.append(str(network))
    return tuple(found)


# -- DNS, routes, DHCP options, the host name (compat.nm_dispatcher's variables) -----------------

MAX_OPTIONS = 512
MAX_OPTION_TEXT = 4096
_OPTION_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
_DOMAIN_RE = re.compile(
    r"~?(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?"
)
HOSTNAME_RE = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(?:\.[A-Za-z0-9_-]{1,63})*\.?"
)


def _entries(value: object, name: str) -> list[dict[str, object]] | Malformed:
    if not isinstance(value, Variant) or value.signature != "aa{sv}":
        return Malformed(Malformation.TYPE, f"{name} is not aa{{sv}}")
    entries = value.value
    if not isinstance(entries, list) or len(entries) > MAX_ADDRESSES:
        return Malformed(Malformation.VALUE, f"{name} is not a list of bounded size")
    if not all(isinstance(entry, dict) for entry in entries):
        return Malformed(Malformation.TYPE, f"a {name} entry is not a dict")
    return entries


def _address(text: object, version: int, what: str) -> str | Malformed:
    if not isinstance(text, str):
        return Malformed(Malformation.TYPE, f"{what} is not a string")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return Malformed(Malformation.VALUE, f"{what} {text[:60]!r} is not an address")
    if address.version != version:
        return Malformed(Malformation.VALUE, f"{what} {text[:60]!r} is not IPv{version}")
    return str(address)


def nameserver_data_value(value: object) -> tuple[str, ...] | Malformed:
    """IPv4 ``NameserverData aa{sv}``: each entry's ``address`` (s)."""
    entries = _entries(value, "NameserverData")
    if isinstance(entries, Malformed):
        return entries
    found: list[str] = []
    for entry in entries:
        raw = entry.get("address")
        address = _address(raw.value if isinstance(raw, Variant) else None, 4, "a nameserver")
        if isinstance(address, Malformed):
            return address
        found.append(address)
    return tuple(found)


def nameservers6_value(value: object) -> tuple[str, ...] | Malformed:
    """IPv6 ``Nameservers aay``: 16 bytes each."""
    if not isinstance(value, Variant) or value.signature != "aay":
        return Malformed(Malformation.TYPE, "Nameservers is not aay")
    items = value.value
    if not isinstance(items, list) or len(items) > MAX_ADDRESSES:
        return Malformed(Malformation.VALUE, "Nameservers is not a list of bounded size")
    if not all(isinstance(item, bytes) and len(item) == 16 for item in items):
        return Malformed(Malformation.VALUE, "a Nameservers entry is not 16 bytes")
    return tuple(str(ipaddress.IPv6Address(item)) for item in items)


def domains_value(value: object) -> tuple[str, ...] | Malformed:
    """``Domains as``. The names come from the network through NetworkManager: one that is
    not a domain name is left out (the rest of the message still holds), never passed on."""
    if not isinstance(value, Variant) or value.signature != "as":
        return Malformed(Malformation.TYPE, "Domains is not as")
    items = value.value
    if not isinstance(items, list) or len(items) > MAX_ADDRESSES:
        return Malformed(Malformation.VALUE, "Domains is not a list of bounded size")
    return tuple(d for d in items if isinstance(d, str) and _DOMAIN_RE.fullmatch(d))


def route_data_value(value: object, version: int) -> tuple[str, ...] | Malformed:
    """``RouteData aa{sv}``: ``dest`` (s), ``prefix`` (u), ``next-hop`` (s, optional),
    ``metric`` (u, optional) as ``dest/prefix next-hop metric`` (``-``: no next hop)."""
    entries = _entries(value, "RouteData")
    if isinstance(entries, Malformed):
        return entries
    found: list[str] = []
    for entry in entries:
        route = _route(entry, version)
        if isinstance(route, Malformed):
            return route
        found.append(route)
    return tuple(found)


def _u32_variant(entry: dict[str, object], key: str, default: int | None) -> int | Malformed:
    raw = entry.get(key)
    if raw is None and default is not None:
        return default
    if not isinstance(raw, Variant) or raw.signature != "u" or _u32(raw.value) is None:
        return Malformed(Malformation.TYPE, f"a route's {key} is not a u32")
    return int(raw.value)


def _route(entry: dict[str, object], version: int) -> str | Malformed:
    raw_dest, raw_hop = entry.get("dest"), entry.get("next-hop")
    dest = _address(raw_dest.value if isinstance(raw_dest, Variant) else None, version, "dest")
    if isinstance(dest, Malformed):
        return dest
    hop: str | Malformed = "-"
    if raw_hop is not None:
        hop = _address(raw_hop.value if isinstance(raw_hop, Variant) else None, version, "next-hop")
    if isinstance(hop, Malformed):
        return hop
    prefix, metric = _u32_variant(entry, "prefix", None), _u32_variant(entry, "metric", 0)
    if isinstance(prefix, Malformed):
        return prefix
    if isinstance(metric, Malformed):
        return metric
    if prefix > (32 if version == 4 else 128):
        return Malformed(Malformation.VALUE, f"route prefix {prefix} is out of range")
    return f"{dest}/{prefix} {hop} {metric}"


def dhcp_options_value(value: object) -> tuple[tuple[str, str], ...] | Malformed:
    """``DHCP4Config``/``DHCP6Config`` ``Options a{sv}``: NetworkManager's option names
    (letters, digits, _) with string values, bounded."""
    if not isinstance(value, Variant) or value.signature != "a{sv}":
        return Malformed(Malformation.TYPE, "Options is not a{sv}")
    options = value.value
    if not isinstance(options, dict) or len(options) > MAX_OPTIONS:
        return Malformed(Malformation.VALUE, "Options is not a dict of bounded size")
    found: list[tuple[str, str]] = []
    for key, item in options.items():
        if not isinstance(key, str) or not _OPTION_NAME_RE.fullmatch(key):
            return Malformed(Malformation.VALUE, f"DHCP option name {str(key)[:40]!r}")
        text = text_value(f"DHCP option {key}", item)
        if isinstance(text, Malformed):
            return text
        if len(text) > MAX_OPTION_TEXT or "\x00" in text:
            return Malformed(Malformation.VALUE, f"DHCP option {key} is not believable")
        found.append((key, text))
    return tuple(sorted(found))


def hostname_value(value: object) -> str | Malformed:
    """``Settings.Hostname``: a host name, or "" for none."""
    text = text_value("Hostname", value)
    if isinstance(text, str) and text and not HOSTNAME_RE.fullmatch(text):
        return Malformed(Malformation.VALUE, f"Hostname {text[:40]!r} is not a host name")
    return text
