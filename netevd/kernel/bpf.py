"""A classic BPF socket filter for the subscribed rtnetlink socket (pure bytecode builder).

The kernel runs the program on each multicast notification before it queues it, so a route of
a table netevd does not follow (netevd.core.follow) costs neither a wake-up, a copy, a decode
nor room in the receive buffer: a full table changing in main leaves the socket quiet. The
program looks only at the route messages' fixed header (rtm_table, rtm_dst_len,
rtm_protocol) and, for a table above 255 (rtm_table says 252, "see RTA_TABLE"), at the first
attribute, where the kernel puts RTA_TABLE. Every other message passes. When it cannot tell,
it lets the message through: the userspace rule (RouteFollow.keeps) has the last word, so the
filter may only ever pass too much, never too little (tests/unit/kernel/test_bpf.py runs it).

Offsets are those of a netlink datagram: nlmsghdr (16 bytes: length, type, flags, seq, pid),
then rtmsg (family, dst_len, src_len, tos, table, protocol, scope, type, flags), then
attributes. BPF loads 16- and 32-bit words in network byte order while netlink fields are in
the host's, so constants are byte-swapped for the host (*byteorder*).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

from netevd.core.follow import ESSENTIAL_PROTOCOLS, SHARED_TABLES, RouteFollow
from netevd.core.model import RT_TABLE_LOCAL

# Instruction classes and modes (linux/filter.h)
LD_W_ABS, LD_H_ABS, LD_B_ABS, LD_W_LEN = 0x20, 0x28, 0x30, 0x80
JEQ, JGE = 0x15, 0x35
RET = 0x06
ACCEPT, DROP = 0xFFFFFFFF, 0

RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RT_TABLE_COMPAT = 252  # rtm_table of a route whose table id does not fit a byte
RTA_TABLE = 15
OFF_TYPE, OFF_DST_LEN, OFF_TABLE, OFF_PROTOCOL = 4, 17, 20, 21
OFF_ATTR_TYPE, OFF_ATTR_VALUE = 30, 32  # the first attribute: nla_len at 28, nla_type at 30


@dataclass(frozen=True, slots=True)
class SockFilter:
    """One classic BPF instruction (struct sock_filter)."""

    code: int
    jt: int
    jf: int
    k: int


@dataclass(frozen=True, slots=True)
class _Jump:
    """A conditional jump to labels, resolved into offsets by _assemble."""

    code: int
    k: int
    true: str
    false: str


@dataclass(frozen=True, slots=True)
class _Op:
    code: int
    k: int


Line = _Op | _Jump | str  # a str is a label
ByteOrder = Literal["little", "big"]


def _host16(value: int, byteorder: ByteOrder) -> int:
    return int.from_bytes(value.to_bytes(2, byteorder), "big")


def _host32(value: int, byteorder: ByteOrder) -> int:
    return int.from_bytes(value.to_bytes(4, byteorder), "big")


def route_filter(
    follow: RouteFollow, byteorder: ByteOrder = sys.byteorder
) -> tuple[SockFilter, ...] | None:
    """The program for *follow*, or None when every route is followed (no filter at all)."""
    if follow.everything:
        return None
    lines: list[Line] = [
        _Op(LD_H_ABS, OFF_TYPE),
        _Jump(JEQ, _host16(RTM_NEWROUTE, byteorder), "route", "del"),
        "del",
        _Jump(JEQ, _host16(RTM_DELROUTE, byteorder), "route", "accept"),
        "route",
        _Op(LD_B_ABS, OFF_TABLE),
    ]
    small = sorted(t for t in follow.tables if t <= 0xFF and t != RT_TABLE_COMPAT)
    lines += _any_of(small, "accept", "small")
    if follow.other_tables:
        # Tables above 255 (rtm_table 252) are never main, local or default either.
        lines += _none_of(sorted(SHARED_TABLES), "accept", "essential")
    elif any(t > 0xFF or t == RT_TABLE_COMPAT for t in follow.tables):
        lines += _large_tables(follow, byteorder)
    lines += ["essential", *_essential(), "drop", _Op(RET, DROP), "accept", _Op(RET, ACCEPT)]
    return _assemble(lines)


def _any_of(values: list[int], target: str, tag: str) -> list[Line]:
    """Jump to *target* when the accumulator equals one of *values*; else fall through."""
    lines: list[Line] = []
    for n, value in enumerate(values):
        after = f"{tag}{n}"
        lines += [_Jump(JEQ, value, target, after), after]
    return lines


def _none_of(values: list[int], target: str, otherwise: str) -> list[Line]:
    """Jump to *target* unless the accumulator equals one of *values* (then to *otherwise*)."""
    lines: list[Line] = []
    for n, value in enumerate(values):
        after = f"shared{n}"
        lines += [_Jump(JEQ, value, otherwise, after), after]
    lines.append(_Jump(JEQ, 0, target, target))  # an unconditional jump
    return lines


def _large_tables(follow: RouteFollow, byteorder: ByteOrder) -> list[Line]:
    """rtm_table 252: compare RTA_TABLE when it is the first attribute (it is, as the kernel
    writes route messages); pass the message when it is not there."""
    large = sorted(t for t in follow.tables if t > 0xFF or t == RT_TABLE_COMPAT)
    lines: list[Line] = [
        _Jump(JEQ, RT_TABLE_COMPAT, "compat", "essential"),
        "compat",
        _Op(LD_W_LEN, 0),
        _Jump(JGE, OFF_ATTR_VALUE + 4, "long", "accept"),
        "long",
        _Op(LD_H_ABS, OFF_ATTR_TYPE),
        _Jump(JEQ, _host16(RTA_TABLE, byteorder), "table_attr", "accept"),
        "table_attr",
        _Op(LD_W_ABS, OFF_ATTR_VALUE),
    ]
    lines += _any_of([_host32(t, byteorder) for t in large], "accept", "large")
    lines.append(_Jump(JEQ, 0, "essential", "essential"))
    return lines


def _essential() -> list[Line]:
    """What every mode follows: not table local, and a default route or proto kernel/netevd."""
    lines: list[Line] = [
        _Op(LD_B_ABS, OFF_TABLE),
        _Jump(JEQ, RT_TABLE_LOCAL, "drop", "not_local"),
        "not_local",
        _Op(LD_B_ABS, OFF_DST_LEN),
        _Jump(JEQ, 0, "accept", "not_default"),
        "not_default",
        _Op(LD_B_ABS, OFF_PROTOCOL),
    ]
    lines += _any_of(sorted(ESSENTIAL_PROTOCOLS), "accept", "protocol")
    return lines


def _assemble(lines: list[Line]) -> tuple[SockFilter, ...]:
    labels: dict[str, int] = {}
    count = 0
    for line in lines:
        if isinstance(line, str):
            labels[line] = count
        else:
            count += 1
    program: list[SockFilter] = []
    for line in lines:
        if isinstance(line, _Op):
            program.append(SockFilter(line.code, 0, 0, line.k))
        elif isinstance(line, _Jump):
            here = len(program) + 1  # jump offsets count from the next instruction
            program.append(
                SockFilter(line.code, labels[line.true] - here, labels[line.false] - here, line.k)
            )
    for instruction in program:
        if not (0 <= instruction.jt <= 0xFF and 0 <= instruction.jf <= 0xFF):
            raise ValueError("a socket filter jump is out of range")  # only forward, < 256
    return tuple(program)
