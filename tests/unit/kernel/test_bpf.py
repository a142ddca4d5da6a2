"""The socket filter's bytecode, run by a small classic-BPF interpreter on messages pyroute2
encodes: it passes every route netevd follows (RouteFollow.keeps), drops what it does not
follow when it can tell, and passes every other message."""

import struct
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroute2.netlink.rtnl import RTM_DELROUTE, RTM_NEWLINK, RTM_NEWROUTE
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from netevd.core.follow import RouteFollow
from netevd.kernel.bpf import (
    JEQ,
    JGE,
    LD_B_ABS,
    LD_H_ABS,
    LD_W_ABS,
    LD_W_LEN,
    RET,
    SockFilter,
    route_filter,
)
from netevd.kernel.wire import decode_datagram

FOLLOWS = [
    RouteFollow("none"),
    RouteFollow("tables", frozenset({100, 254})),
    RouteFollow("tables", frozenset({1000, 70000, 7})),
    RouteFollow("none", other_tables=True),
    RouteFollow("tables", frozenset({252, 255}), other_tables=True),
]


def run(program: tuple[SockFilter, ...], packet: bytes) -> int:
    """What the kernel's classic BPF would return for *packet* (0 drops it)."""
    acc, pc = 0, 0
    while True:
        op = program[pc]
        pc += 1
        if op.code == RET:
            return op.k
        if op.code in (LD_W_ABS, LD_H_ABS, LD_B_ABS):
            size = {LD_W_ABS: 4, LD_H_ABS: 2, LD_B_ABS: 1}[op.code]
            if op.k + size > len(packet):
                return 0  # the kernel drops a packet a load runs past
            acc = int.from_bytes(packet[op.k : op.k + size], "big")
        elif op.code == LD_W_LEN:
            acc = len(packet)
        elif op.code in (JEQ, JGE):
            hit = acc == op.k if op.code == JEQ else acc >= op.k
            pc += op.jt if hit else op.jf
        else:
            raise AssertionError(f"unexpected instruction {op}")


def route_message(kind, family, table, protocol, dst_len, table_first=True) -> bytes:
    fields = {"family": family, "dst_len": dst_len, "proto": protocol, "type": 1, "scope": 0}
    fields["table"] = table if table < 256 else 252
    dst = "10.1.0.0" if family == 2 else "fd00::"
    attrs = [["RTA_DST", dst], ["RTA_OIF", 3]] if dst_len else [["RTA_OIF", 3]]
    attrs = [["RTA_TABLE", table], *attrs] if table_first else [*attrs, ["RTA_TABLE", table]]
    msg = rtmsg()
    for key, value in fields.items():
        msg[key] = value
    msg["attrs"] = attrs
    msg["header"]["type"] = kind
    msg.encode()
    return bytes(msg.data)


@pytest.mark.parametrize("follow", FOLLOWS, ids=repr)
@given(
    kind=st.sampled_from([RTM_NEWROUTE, RTM_DELROUTE]),
    family=st.sampled_from([2, 10]),
    table=st.sampled_from([1, 7, 100, 252, 253, 254, 255, 1000, 70000]),
    protocol=st.sampled_from([2, 3, 4, 9, 11, 12, 16, 78, 186]),
    dst_len=st.sampled_from([0, 8, 24, 64]),
)
@settings(max_examples=150, deadline=None)
def test_the_filter_is_the_rule_when_rta_table_comes_first(
    follow, kind, family, table, protocol, dst_len
):
    data = route_message(kind, family, table, protocol, dst_len)
    (event,) = decode_datagram(data)
    program = route_filter(follow)
    assert program is not None
    assert bool(run(program, data)) == follow.keeps(event.route)


@pytest.mark.parametrize("follow", FOLLOWS, ids=repr)
@given(
    table=st.sampled_from([7, 252, 1000, 70000]),
    protocol=st.sampled_from([2, 11, 186]),
    dst_len=st.sampled_from([0, 24]),
)
@settings(max_examples=60, deadline=None)
def test_the_filter_never_drops_a_followed_route(follow, table, protocol, dst_len):
    """RTA_TABLE elsewhere than first (the kernel never writes it so): passing too much is
    allowed, dropping a followed route is not."""
    data = route_message(RTM_NEWROUTE, 2, table, protocol, dst_len, table_first=False)
    (event,) = decode_datagram(data)
    program = route_filter(follow)
    if follow.keeps(event.route):
        assert run(program, data)


def test_other_messages_pass_and_all_means_no_filter():
    link = ifinfmsg()
    link["index"] = 3
    link["attrs"] = [["IFLA_IFNAME", "eth0"]]
    link["header"]["type"] = RTM_NEWLINK
    link.encode()
    for follow in FOLLOWS:
        assert run(route_filter(follow), bytes(link.data)) == 0xFFFFFFFF
    assert route_filter(RouteFollow()) is None


def test_a_full_table_of_bgp_routes_is_dropped_and_the_default_route_kept():
    program = route_filter(RouteFollow("none"))
    assert not run(program, route_message(RTM_NEWROUTE, 2, 254, 186, 24))
    assert run(program, route_message(RTM_NEWROUTE, 2, 254, 186, 0))
    assert run(program, route_message(RTM_NEWROUTE, 2, 254, 2, 24))  # on-link, proto kernel
    assert not run(program, route_message(RTM_NEWROUTE, 2, 255, 2, 32))  # table local


def test_constants_follow_the_byte_order():
    little = route_filter(RouteFollow("none"), "little")
    big = route_filter(RouteFollow("none"), "big")
    assert little[1].k == RTM_NEWROUTE << 8
    assert big[1].k == RTM_NEWROUTE
    packet = route_message(RTM_NEWROUTE, 2, 254, 186, 24)
    native = {"little": little, "big": big}[sys.byteorder]
    assert run(native, packet) == 0


def test_too_many_tables_for_a_jump_are_refused():
    with pytest.raises(ValueError, match="out of range"):
        route_filter(RouteFollow("tables", frozenset(range(300, 700))))


def test_a_packet_shorter_than_a_load_is_dropped_by_the_interpreter_too():
    short = struct.pack("=IHHII", 20, RTM_NEWROUTE, 0, 0, 0) + b"\x02\x00\x00\x00"
    assert run(route_filter(RouteFollow("none")), short) == 0
