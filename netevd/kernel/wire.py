"""rtnetlink messages from the bytes the kernel sends, straight into netevd's events (pure).

pyroute2 parses every attribute of every message into objects before anyone reads one; in a
storm of a million routes that parse was most of the daemon's time. This decoder reads the
fixed header and only the attributes netevd keeps (the tests' oracle on pyroute2's parser,
``tests/unit/kernel/oracle.py``, lists them and gives the same events:
``tests/unit/kernel/test_wire.py`` holds the two side by side). It never raises on garbage:
a message it cannot read is a :class:`Rejected` that says why.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    KernelEvent,
    LinkChanged,
    LinkRemoved,
    NeighbourChanged,
    NeighbourRemoved,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
)
from netevd.core.model import AF_INET, AF_INET6, Addr, Link, Neigh, Route, Rule

NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWLINK, RTM_DELLINK = 16, 17
RTM_NEWADDR, RTM_DELADDR = 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTM_NEWRULE, RTM_DELRULE = 32, 33
RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29

HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_NLA = struct.Struct("=HH")  # nlattr: length, type
_U32 = struct.Struct("=I")
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, proto, scope, type
_NDMSG = struct.Struct("=BxxxiHBB")  # family, 3 pad, ifindex, state, flags, type
_RTNH = struct.Struct("=HBBi")  # rtnexthop: length, flags, hops, ifindex
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
_FAMILIES = {AF_INET: (socket.AF_INET, 4), AF_INET6: (socket.AF_INET6, 16)}
_ANY = {AF_INET: "0.0.0.0", AF_INET6: "::"}  # noqa: S104 - the unspecified prefix, not a bind
_TEXT_CACHE = 4096  # gateways and source addresses repeat: one string each, not one per route


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message the decoder could not read (truncated, an attribute running past its end)."""

    type: int
    reason: str


Decoded = KernelEvent | Rejected | None  # None: a message netevd does not model


@dataclass(frozen=True, slots=True)
class Message:
    """Where one message sits in a datagram, with its header fields."""

    type: int
    flags: int
    seq: int
    pid: int
    start: int
    end: int


def messages(data: bytes) -> Iterator[Message]:
    """The messages of one datagram; stops at the first whose length does not fit."""
    offset, size = 0, len(data)
    while offset + HEADER.size <= size:
        length, kind, flags, seq, pid = HEADER.unpack_from(data, offset)
        if length < HEADER.size or offset + length > size:
            return
        yield Message(kind, flags, seq, pid, offset, offset + length)
        offset += (length + 3) & ~3


def decode_message(data: bytes, message: Message) -> Decoded:
    """The event one rtnetlink message means (see :func:`decode_at`)."""
    return decode_at(data, message.type, message.start, message.end)


def decode_at(data: bytes, kind: int, start: int, end: int) -> Decoded:
    """The event for the message of type *kind* at ``data[start:end]`` (header included)."""
    try:
        if kind in (RTM_NEWROUTE, RTM_DELROUTE):
            return _route(data, kind, start, end)
        if kind in (RTM_NEWADDR, RTM_DELADDR):
            return _addr(data, kind, start, end)
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            return _link(data, kind, start, end)
        if kind in (RTM_NEWRULE, RTM_DELRULE):
            return _rule(data, kind, start, end)
        if kind in (RTM_NEWNEIGH, RTM_DELNEIGH):
            return _neigh(data, kind, start, end)
    except (struct.error, ValueError, IndexError) as exc:
        return Rejected(kind, f"malformed: {exc}")
    return None


def decode_datagram(data: bytes | bytearray) -> list[Decoded]:
    """Every message of a datagram, decoded in order."""
    data = bytes(data)  # a no-op for bytes; slices of it must be hashable
    return [decode_at(data, m.type, m.start, m.end) for m in messages(data)]


def _attrs(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, value start, value end) of each attribute; ValueError when one overruns."""
    while pos + 4 <= end:
        length, kind = _NLA.unpack_from(data, pos)
        if length < 4 or pos + length > end:
            raise ValueError(f"attribute {kind & NLA_TYPE_MASK} overruns its message")
        yield kind & NLA_TYPE_MASK, pos + 4, pos + length
        pos += (length + 3) & ~3


_texts: dict[tuple[int, bytes], str] = {}


def _address(family: int, raw: bytes) -> str:
    """An address as inet_ntop writes it (pyroute2 does the same); shared when repeated."""
    key = (family, raw)
    text = _texts.get(key)
    if text is None:
        af, size = _FAMILIES[family]
        if len(raw) != size:
            raise ValueError(f"a family {family} address of {len(raw)} bytes")
        text = socket.inet_ntop(af, raw)
        if len(_texts) >= _TEXT_CACHE:
            _texts.clear()
        _texts[key] = text
    return text


def _u32(data: bytes, start: int, end: int) -> int:
    if end - start < 4:
        raise ValueError("a 32-bit attribute shorter than 4 bytes")
    value: int = _U32.unpack_from(data, start)[0]
    return value


def _text(raw: bytes) -> str:
    """A NUL-terminated name; bytes that are not UTF-8 stay visible (and fail validation)."""
    return raw.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")


def _route(data: bytes, kind: int, start: int, end: int) -> Decoded:
    if end - start < HEADER.size + _RTMSG.size:
        return Rejected(kind, "truncated route message")
    family, dst_len, _, tos, table, proto, scope, rtype, _ = _RTMSG.unpack_from(data, start + 16)
    if family not in _FAMILIES:
        return None
    dst, gateway, prefsrc, oif, priority, rta_table, hops = _route_attrs(data, start + 28, end)
    gateway_text = _address(family, gateway) if gateway else ""
    if not oif and hops is not None:
        # A multipath route is filed under its first hop's interface.
        oif, first_gateway = _first_hop(data, family, *hops)
        gateway_text = gateway_text or first_gateway
    prefix = _address(family, dst) if dst else _ANY[family]
    route = Route(
        family,
        table if rta_table is None else rta_table,  # RTA_TABLE: the whole id, past 255
        f"{prefix}/{dst_len}",
        gateway_text,
        oif,
        proto,
        scope,
        rtype,
        priority,
        _address(family, prefsrc) if prefsrc else "",
        tos,
    )
    return RouteAdded(route) if kind == RTM_NEWROUTE else RouteRemoved(route)


_RouteAttrs = tuple[bytes, bytes, bytes, int, int, "int | None", "tuple[int, int] | None"]


def _route_attrs(data: bytes, pos: int, end: int) -> _RouteAttrs:
    """(dst, gateway, prefsrc, oif, priority, table, multipath span) of a route message."""
    dst = gateway = prefsrc = b""
    oif = priority = 0
    table: int | None = None
    hops: tuple[int, int] | None = None
    for attr, lo, hi in _attrs(data, pos, end):
        if attr == 1:  # RTA_DST
            dst = data[lo:hi]
        elif attr == 4:  # RTA_OIF
            oif = _u32(data, lo, hi)
        elif attr == 5:  # RTA_GATEWAY
            gateway = data[lo:hi]
        elif attr == 6:  # RTA_PRIORITY
            priority = _u32(data, lo, hi)
        elif attr == 7:  # RTA_PREFSRC
            prefsrc = data[lo:hi]
        elif attr == 15:  # RTA_TABLE
            table = _u32(data, lo, hi)
        elif attr == 9:  # RTA_MULTIPATH
            hops = (lo, hi)
    return dst, gateway, prefsrc, oif, priority, table, hops


def _first_hop(data: bytes, family: int, start: int, end: int) -> tuple[int, str]:
    if end - start < _RTNH.size:
        return 0, ""
    length, _, _, ifindex = _RTNH.unpack_from(data, start)
    if length < _RTNH.size or start + length > end:
        raise ValueError("a multipath hop overruns its attribute")
    for attr, lo, hi in _attrs(data, start + _RTNH.size, start + length):
        if attr == 5:  # RTA_GATEWAY
            return ifindex, _address(family, data[lo:hi])
    return ifindex, ""


def _addr(data: bytes, kind: int, start: int, end: int) -> Decoded:
    if end - start < HEADER.size + _IFADDR.size:
        return Rejected(kind, "truncated address message")
    family, prefixlen, flags, scope, index = _IFADDR.unpack_from(data, start + 16)
    if family not in _FAMILIES:
        return None
    local = address = b""
    for attr, lo, hi in _attrs(data, start + 24, end):
        if attr == 2:  # IFA_LOCAL: the own address (IFA_ADDRESS is the peer on p-t-p links)
            local = data[lo:hi]
        elif attr == 1:  # IFA_ADDRESS
            address = data[lo:hi]
        elif attr == 8:  # IFA_FLAGS: all 32 bits (ifa_flags holds the low 8)
            flags = _u32(data, lo, hi)
    raw = local or address
    if not raw:
        return None
    addr = Addr(index, family, _address(family, raw), prefixlen, scope, flags)
    return AddressAdded(addr) if kind == RTM_NEWADDR else AddressRemoved(addr)


def _link(data: bytes, kind: int, start: int, end: int) -> Decoded:
    if end - start < HEADER.size + _IFINFO.size:
        return Rejected(kind, "truncated link message")
    _, _, index, flags, _ = _IFINFO.unpack_from(data, start + 16)
    if kind == RTM_DELLINK:
        return LinkRemoved(index)
    name = mac = link_kind = ""
    mtu = master = 0
    operstate = "UNKNOWN"
    for attr, lo, hi in _attrs(data, start + 32, end):
        if attr == 3:  # IFLA_IFNAME
            name = _text(data[lo:hi])
        elif attr == 4:  # IFLA_MTU
            mtu = _u32(data, lo, hi)
        elif attr == 1:  # IFLA_ADDRESS
            mac = ":".join(f"{b:02x}" for b in data[lo : min(hi, lo + 6)])
        elif attr == 16 and hi > lo:  # IFLA_OPERSTATE
            code = data[lo]
            operstate = OPERSTATES[code] if code < len(OPERSTATES) else "UNKNOWN"
        elif attr == 10:  # IFLA_MASTER
            master = _u32(data, lo, hi)
        elif attr == 18:  # IFLA_LINKINFO
            link_kind = _link_kind(data, lo, hi)
    return LinkChanged(Link(index, name, flags, mtu, mac, operstate, link_kind, master))


def _link_kind(data: bytes, start: int, end: int) -> str:
    for attr, lo, hi in _attrs(data, start, end):
        if attr == 1:  # IFLA_INFO_KIND
            return _text(data[lo:hi])
    return ""


def _rule(data: bytes, kind: int, start: int, end: int) -> Decoded:
    if end - start < HEADER.size + _RTMSG.size:
        return Rejected(kind, "truncated rule message")
    # fib_rule_hdr has rtmsg's shape: family, dst_len, src_len, tos, table, 2 reserved, action
    family, dst_len, src_len, _, table, _, _, action, _ = _RTMSG.unpack_from(data, start + 16)
    if family not in _FAMILIES:
        return None  # RTNL_FAMILY_IPMR and friends: multicast routing, not ours
    values: dict[int, bytes] = {}
    for attr, lo, hi in _attrs(data, start + 28, end):
        values.setdefault(attr, data[lo:hi])
    src, dst = values.get(2), values.get(1)  # FRA_SRC, FRA_DST
    suppress = _int(values.get(14), -1)  # FRA_SUPPRESS_PREFIXLEN
    rule = Rule(
        family=family,
        priority=_int(values.get(6)),  # FRA_PRIORITY
        table=_int(values.get(15), table),  # FRA_TABLE
        src=f"{_address(family, src)}/{src_len}" if src else "",
        dst=f"{_address(family, dst)}/{dst_len}" if dst else "",
        iif=_text(values.get(3, b"")),  # FRA_IIFNAME
        oif=_text(values.get(17, b"")),  # FRA_OIFNAME
        fwmark=_int(values.get(10)),  # FRA_FWMARK
        fwmask=_int(values.get(16)),  # FRA_FWMASK
        protocol=values[21][0] if values.get(21) else 0,  # FRA_PROTOCOL (u8)
        action=action,
        suppress_prefixlen=-1 if suppress == 0xFFFFFFFF else suppress,
    )
    return RuleAdded(rule) if kind == RTM_NEWRULE else RuleRemoved(rule)


def _neigh(data: bytes, kind: int, start: int, end: int) -> Decoded:
    if end - start < HEADER.size + _NDMSG.size:
        return Rejected(kind, "truncated neighbour message")
    family, index, state, _, _ = _NDMSG.unpack_from(data, start + 16)
    if family not in _FAMILIES:
        return None  # AF_BRIDGE (the bridge's FDB) and friends: not neighbours of ours
    dst = lladdr = b""
    protocol = ext_flags = 0
    for attr, lo, hi in _attrs(data, start + 28, end):
        if attr == 1:  # NDA_DST
            dst = data[lo:hi]
        elif attr == 2:  # NDA_LLADDR
            lladdr = data[lo:hi]
        elif attr == 12 and hi > lo:  # NDA_PROTOCOL (u8)
            protocol = data[lo]
        elif attr == 15:  # NDA_FLAGS_EXT
            ext_flags = _u32(data, lo, hi)
    if not dst:
        return None
    mac = ":".join(f"{b:02x}" for b in lladdr)
    neigh = Neigh(index, family, _address(family, dst), state, mac, protocol, ext_flags)
    return NeighbourChanged(neigh) if kind == RTM_NEWNEIGH else NeighbourRemoved(neigh)


def _int(raw: bytes | None, default: int = 0) -> int:
    return default if raw is None else _u32(raw, 0, len(raw))


TYPE_NAMES = {
    RTM_NEWLINK: "RTM_NEWLINK",
    RTM_DELLINK: "RTM_DELLINK",
    RTM_NEWADDR: "RTM_NEWADDR",
    RTM_DELADDR: "RTM_DELADDR",
    RTM_NEWROUTE: "RTM_NEWROUTE",
    RTM_DELROUTE: "RTM_DELROUTE",
    RTM_NEWRULE: "RTM_NEWRULE",
    RTM_DELRULE: "RTM_DELRULE",
    RTM_NEWNEIGH: "RTM_NEWNEIGH",
    RTM_DELNEIGH: "RTM_DELNEIGH",
    NLMSG_ERROR: "NLMSG_ERROR",
    NLMSG_DONE: "NLMSG_DONE",
}


def type_name(kind: int) -> str:
    """The message type's name for metrics labels (a bounded set: the groups netevd joins)."""
    return TYPE_NAMES.get(kind) or f"type-{kind}"


def decode_all(data: bytes) -> list[tuple[int, Decoded]]:
    """(type, decoded) of every message of a datagram: the streaming path, without the
    per-message Message objects of :func:`messages`."""
    found: list[tuple[int, Decoded]] = []
    offset, size = 0, len(data)
    while offset + 16 <= size:
        length, kind = _HEAD.unpack_from(data, offset)
        if length < 16 or offset + length > size:
            break
        found.append((kind, decode_at(data, kind, offset, offset + length)))
        offset += (length + 3) & ~3
    return found


_HEAD = struct.Struct("=IH")
