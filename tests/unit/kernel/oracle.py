"""The tests' oracle: rtnetlink messages as pyroute2 parses them, decoded into netevd events.

netevd itself reads the kernel with netevd.kernel.wire alone; this independent decoder, on
pyroute2's own parser, is what the unit tests hold wire's results against. A message is
anything with ``get(key)``: pyroute2's nlmsg objects built from recorded bytes. Families come
from the message's ``family`` field, never from guessing at punctuation.
"""

from __future__ import annotations

from typing import Any, Protocol

from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    KernelEvent,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
)
from netevd.core.model import AF_INET, AF_INET6, Addr, Link, Route, Rule


class Message(Protocol):
    def get(self, key: Any, default: Any = None) -> Any: ...

    def __getitem__(self, key: str) -> Any: ...


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) else default


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def decode_link(msg: Message) -> Link:
    return Link(
        index=_int(msg.get("index")),
        name=_str(msg.get("ifname")),
        flags=_int(msg.get("flags")),
        mtu=_int(msg.get("mtu")),
        mac=_str(msg.get("address")),
        operstate=_str(msg.get("operstate")) or "UNKNOWN",
        kind=_str(msg.get(("linkinfo", "kind"))),
        master=_int(msg.get("master")),
    )


def decode_addr(msg: Message) -> Addr | None:
    family = _int(msg.get("family"))
    if family not in (AF_INET, AF_INET6):
        return None
    # IPv4 point-to-point links put the peer in IFA_ADDRESS; IFA_LOCAL is the own address.
    address = _str(msg.get("local")) or _str(msg.get("address"))
    if not address:
        return None
    flags = msg.get("IFA_FLAGS")
    return Addr(
        index=_int(msg.get("index")),
        family=family,
        address=address,
        prefixlen=_int(msg.get("prefixlen")),
        scope=_int(msg.get("scope")),
        flags=_int(flags if flags is not None else msg.get("flags")),
    )


def _prefix(family: int, dst: object, dst_len: int) -> str:
    base = _str(dst) or ("0.0.0.0" if family == AF_INET else "::")
    return f"{base}/{dst_len}"


def decode_route(msg: Message) -> Route | None:
    family = _int(msg.get("family"))
    if family not in (AF_INET, AF_INET6):
        return None
    oif = _int(msg.get("oif"))
    gateway = _str(msg.get("gateway"))
    multipath = msg.get("multipath")
    if not oif and multipath:
        # A multipath route is filed under its first hop's interface.
        first = multipath[0]
        oif = _int(first.get("oif"))
        gateway = gateway or _str(first.get("gateway"))
    return Route(
        family=family,
        table=_int(msg.get("table")),
        dst=_prefix(family, msg.get("dst"), _int(msg.get("dst_len"))),
        gateway=gateway,
        oif=oif,
        protocol=_int(msg.get("proto")),
        scope=_int(msg.get("scope")),
        type=_int(msg.get("type"), 1),
        priority=_int(msg.get("priority")),
        prefsrc=_str(msg.get("prefsrc")),
        tos=_int(msg.get("tos")),
    )


def decode_rule(msg: Message) -> Rule | None:
    family = _int(msg.get("family"))
    if family not in (AF_INET, AF_INET6):
        return None  # RTNL_FAMILY_IPMR and friends: multicast routing, not ours
    src_len, dst_len = _int(msg.get("src_len")), _int(msg.get("dst_len"))
    suppress = _int(msg.get("suppress_prefixlen"), -1)
    return Rule(
        family=family,
        priority=_int(msg.get("priority")),
        table=_int(msg.get("table")),
        src=f"{msg.get('src')}/{src_len}" if msg.get("src") else "",
        dst=f"{msg.get('dst')}/{dst_len}" if msg.get("dst") else "",
        iif=_str(msg.get("iifname")),
        oif=_str(msg.get("oifname")),
        fwmark=_int(msg.get("fwmark")),
        fwmask=_int(msg.get("fwmask")),
        protocol=_int(msg.get("protocol")),
        action=_int(msg.get("action"), 1),
        suppress_prefixlen=-1 if suppress in (-1, 0xFFFFFFFF) else suppress,
    )


def decode(msg: Message) -> KernelEvent | None:
    """The event for one multicast message, or None for messages netevd does not model."""
    kind = msg.get("event")
    if kind == "RTM_NEWLINK":
        return LinkChanged(decode_link(msg))
    if kind == "RTM_DELLINK":
        return LinkRemoved(_int(msg.get("index")))
    if kind in ("RTM_NEWADDR", "RTM_DELADDR"):
        addr = decode_addr(msg)
        if addr is None:
            return None
        return AddressAdded(addr) if kind == "RTM_NEWADDR" else AddressRemoved(addr)
    if kind in ("RTM_NEWROUTE", "RTM_DELROUTE"):
        route = decode_route(msg)
        if route is None:
            return None
        return RouteAdded(route) if kind == "RTM_NEWROUTE" else RouteRemoved(route)
    if kind in ("RTM_NEWRULE", "RTM_DELRULE"):
        rule = decode_rule(msg)
        if rule is None:
            return None
        return RuleAdded(rule) if kind == "RTM_NEWRULE" else RuleRemoved(rule)
    return None
