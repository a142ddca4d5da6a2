"""The environment a script gets (design.md §3), every value validated.

Linux accepts ``$``, ``;``, quotes and backticks in interface names; a script that interpolates
``$LINK`` into a shell command must never see such a name. Invalid link names stop the run
entirely (see reactions); any other invalid value is dropped with its reason.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping

from netevd.core.actions import Env
from netevd.core.networkd_states import LINK_PROPERTIES

LINK_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@=-]{0,14}")
HOSTNAME_RE = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\.[A-Za-z0-9_-]{1,63})*\.?"
)
_SAFE_TEXT_RE = re.compile(r"[^\x00-\x1f\x7f$`\\\"';&|<>(){}\[\]!~?*#%]*")
_LLADDR_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){1,31}")  # as the kernel source writes them
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_OBJECT_PATH_RE = re.compile(r"/|(/[A-Za-z0-9_]+)+")  # the D-Bus specification's
MAX_VALUE = 128 * 1024 - 1  # MAX_ARG_STRLEN includes "NAME=" and the NUL
IFNAMSIZ = 16  # the kernel's, with the NUL
# kernel_name_problem's answers (a caller that words them its own way compares with these)
NAME_LENGTH = "is empty or longer than 15 bytes"
NAME_DOTS = "is . or .."
NAME_CHARACTER = "has a character Linux refuses (/, :, whitespace or NUL)"


def kernel_name_problem(name: str) -> str | None:
    """Why Linux would refuse *name* as an interface name (the kernel's dev_valid_name()), or
    None. The one rule for a name from outside (configuration, a lease file, a peer on the
    bus); whether it may also reach a script is :func:`link_name_problem`'s stricter rule."""
    raw = name.encode("utf-8", "surrogateescape")
    if not raw or len(raw) >= IFNAMSIZ:
        return NAME_LENGTH
    if name in (".", ".."):
        return NAME_DOTS
    if any(c in "/:\0" or c.isspace() for c in name):
        return NAME_CHARACTER
    return None


def link_name_problem(name: str) -> str | None:
    """Why *name* must not reach a script, or None."""
    if not LINK_NAME_RE.fullmatch(name):
        return (
            "interface name has characters outside A-Z a-z 0-9 _ . + @ = - "
            "(or is empty or longer than 15)"
        )
    return None


def _ip(value: str) -> bool:
    address, _, zone = value.partition("%")
    if zone and not LINK_NAME_RE.fullmatch(zone):
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _cidr(value: str) -> bool:
    zone = value.partition("%")[2]
    if zone and not LINK_NAME_RE.fullmatch(zone.partition("/")[0]):
        return False  # ipaddress accepts any zone id: fe80::1%$(id)/64 would pass
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        return False
    return True


def _ip_list(value: str) -> bool:
    return all(_ip(v) for v in value.split())


def _cidr_list(value: str) -> bool:
    return all(_cidr(v) for v in value.split())


def _digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _domain_list(value: str) -> bool:
    return all(HOSTNAME_RE.fullmatch(v) for v in value.split())


def _safe_text(value: str) -> bool:
    return bool(_SAFE_TEXT_RE.fullmatch(value))


def _path(value: str) -> bool:
    """An absolute path with nothing a shell would interpret (as NETEVD_JSON_FILE)."""
    return value.startswith("/") and "/../" not in f"{value}/" and _safe_text(value)


def _word(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_.:-]+", value))


Validator = Callable[[str], bool]

VALIDATORS: Mapping[str, tuple[Validator, str]] = {
    "LINK": (lambda v: LINK_NAME_RE.fullmatch(v) is not None, "not a safe interface name"),
    "LINKINDEX": (_digits, "not a number"),
    "STATE": (_word, "not a state word"),
    "BACKEND": (_word, "not a backend name"),
    "GENERATOR": (_word, "not a backend name"),
    "EVENT": (_word, "not an event word"),
    "ADDRESSES": (_cidr_list, "not a list of addresses"),
    "GATEWAY": (_ip, "not an IP address"),
    "GATEWAY6": (_ip, "not an IP address"),
    "TABLE": (_digits, "not a number"),
    "JSON": (_json, "not valid JSON"),
    "NETEVD_JSON": (_json, "not valid JSON"),
    "NETEVD_JSON_FILE": (lambda v: v.startswith("/") and _safe_text(v), "not a safe path"),
    "NETEVD_SEQ": (_digits, "not a number"),
    "NETEVD_REPLAY": (lambda v: v in ("0", "1"), "not 0 or 1"),
    "DHCP_ADDRESS": (_ip_list, "not an IP address"),
    "DHCP_SUBNET_MASK": (_ip, "not a netmask"),
    "DHCP_GATEWAY": (_ip_list, "not a list of IP addresses"),
    "DHCP_DNS": (_ip_list, "not a list of IP addresses"),
    "DHCP_DOMAIN": (_domain_list, "not a list of domain names"),
    "DHCP_HOSTNAME": (lambda v: HOSTNAME_RE.fullmatch(v) is not None, "not a host name"),
    "DHCP_LEASE": (_digits, "not a number of seconds"),
    "DHCP_PREFIXLEN": (_digits, "not a prefix length"),
    "DHCP_SEARCH": (_domain_list, "not a list of domain names"),
    "DHCP_SERVER": (_ip, "not an IP address"),
    "DHCP_EXPIRE": (_digits, "not a time in seconds since the epoch"),
    # the kernel hooks' own (netevd.core.react.kernel_changes)
    "ADDRESS": (_ip, "not an IP address"),
    "PREFIXLEN": (_digits, "not a prefix length"),
    "FAMILY": (lambda v: v in ("inet", "inet6"), "not inet or inet6"),
    "SCOPE": (_word, "not a scope word"),
    "MTU": (_digits, "not a number"),
    "MTU_OLD": (_digits, "not a number"),
    "GATEWAY_OLD": (_ip, "not an IP address"),
    "NEIGH_STATE": (_word, "not a state word"),
    "NEIGH_STATE_OLD": (_word, "not a state word"),
    "NEIGH_ADDRESS": (_ip, "not an IP address"),
    "LLADDR": (lambda v: _LLADDR_RE.fullmatch(v) is not None, "not a link-layer address"),
    "LLADDR_OLD": (lambda v: _LLADDR_RE.fullmatch(v) is not None, "not a link-layer address"),
    # NetworkManager's, under its dispatcher's names
    "DEVICE_IFACE": (lambda v: LINK_NAME_RE.fullmatch(v) is not None, "not a safe interface name"),
    "DEVICE_IP_IFACE": (
        lambda v: LINK_NAME_RE.fullmatch(v) is not None,
        "not a safe interface name",
    ),
    "CONNECTION_UUID": (lambda v: _UUID_RE.fullmatch(v) is not None, "not a UUID"),
    "CONNECTION_DBUS_PATH": (
        lambda v: _OBJECT_PATH_RE.fullmatch(v) is not None,
        "not a D-Bus object path",
    ),
    "CONNECTION_FILENAME": (_path, "not a safe absolute path"),
    "CONNECTION_EXTERNAL": (lambda v: v == "1", "not 1"),
    "VPN_IP_IFACE": (lambda v: LINK_NAME_RE.fullmatch(v) is not None, "not a safe interface name"),
    "IP4_GATEWAY": (_ip, "not an IP address"),
    "IP6_GATEWAY": (_ip, "not an IP address"),
    "REASON": (_word, "not a reason word"),
    "NM_STATE_OLD": (_word, "not a state word"),
    "CONNECTIVITY": (_word, "not a connectivity word"),
    # networkd-dispatcher's and NetworkManager-dispatcher's, for their scripts (compat:)
    "IFACE": (lambda v: LINK_NAME_RE.fullmatch(v) is not None, "not a safe interface name"),
    "ADDR": (_ip, "not an IP address"),
    "IP_ADDRS": (_ip_list, "not a list of addresses"),
    "IP6_ADDRS": (_ip_list, "not a list of addresses"),
    "json": (_json, "not valid JSON"),
    "NM_DISPATCHER_ACTION": (_word, "not an action word"),
    "CONNECTIVITY_STATE": (_word, "not a connectivity word"),
    **{
        f"{vpn}IP{family}_{name}": check
        for vpn in ("", "VPN_")
        for family in ("4", "6")
        for name, check in (
            ("NAMESERVERS", (_ip_list, "not a list of IP addresses")),
            ("DOMAINS", (_domain_list, "not a list of domain names")),
            ("NUM_ADDRESSES", (_digits, "not a number")),
            ("NUM_ROUTES", (_digits, "not a number")),
        )
    },
    "VPN_IP4_GATEWAY": (_ip, "not an IP address"),
    "VPN_IP6_GATEWAY": (_ip, "not an IP address"),
    **{name: (_word, "not a state word") for name in LINK_PROPERTIES},  # networkd's
}


def env_bytes(name: str, value: str) -> int:
    """What ``NAME=value`` costs execve in bytes (the limits count bytes, not characters)."""
    return (
        len(name.encode("utf-8", "surrogateescape"))
        + 1
        + len(value.encode("utf-8", "surrogateescape"))
    )


def check(name: str, value: str) -> str | None:
    """Why *value* may not be passed as *name*, or None when it may."""
    if env_bytes(name, value) > MAX_VALUE:
        return f"longer than {MAX_VALUE} bytes"
    if "\x00" in value:
        return "contains a NUL byte"
    validator, reason = VALIDATORS.get(name, (_safe_text, "has characters a shell would interpret"))
    return None if validator(value) else reason


def validated(
    values: Mapping[str, str], always: Iterable[str] = ()
) -> tuple[Env, tuple[tuple[str, str], ...]]:
    """Split *values* into what may be passed and what is dropped (name, reason). An empty
    value is left out, but for the names in *always*: a compat run passes what the other
    tool always sets even when empty (``ESSID=``), as that tool does."""
    keep_empty = frozenset(always)
    env: list[tuple[str, str]] = []
    dropped: list[tuple[str, str]] = []
    for name, value in values.items():
        if value == "":
            if name in keep_empty:
                env.append((name, value))
            continue
        problem = check(name, value)
        if problem:
            dropped.append((name, problem))
        else:
            env.append((name, value))
    return tuple(env), tuple(dropped)
