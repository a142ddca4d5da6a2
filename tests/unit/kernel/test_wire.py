"""The lean decoder (netevd.kernel.wire) against pyroute2's parser + the oracle (oracle.py) on the
same bytes, built by pyroute2's encoder; and on garbage, which it must refuse, never raise on."""

import struct
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st
from pyroute2.netlink.rtnl import (
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_DELROUTE,
    RTM_DELRULE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWNEIGH,
    RTM_NEWROUTE,
    RTM_NEWRULE,
)
from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from netevd.core.events import KernelEvent, LinkChanged, RouteAdded
from netevd.kernel.wire import Rejected, decode_all, decode_datagram, messages, type_name
from tests.unit.kernel.oracle import decode


def encode(msg_class, msg_type, fields, attrs) -> bytes:
    msg = msg_class()
    for key, value in fields.items():
        msg[key] = value
    msg["attrs"] = attrs
    msg["header"]["type"] = msg_type
    msg.encode()
    return bytes(msg.data)


def both(data: bytes):
    """(pyroute2 + decode.py, wire) for one message."""
    (parsed,) = MarshalRtnl().parse(data)
    (lean,) = decode_datagram(data)
    return decode(parsed), lean


ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8).map(
    lambda words: ":".join(f"{w:x}" for w in words)
)
u32 = st.integers(0, 2**32 - 1)
names = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=15)


@st.composite
def routes(draw):
    family = draw(st.sampled_from([2, 10]))
    address = ipv4 if family == 2 else ipv6
    fields = {
        "family": family,
        "dst_len": draw(st.integers(0, 32 if family == 2 else 128)),
        "table": draw(st.integers(0, 255)),
        "proto": draw(st.integers(0, 255)),
        "scope": draw(st.integers(0, 255)),
        "type": draw(st.integers(0, 11)),
        "tos": draw(st.integers(0, 255)),
    }
    attrs = []
    for name, value in [
        ("RTA_DST", address),
        ("RTA_GATEWAY", address),
        ("RTA_OIF", u32),
        ("RTA_PRIORITY", u32),
        ("RTA_PREFSRC", address),
        ("RTA_TABLE", u32),
    ]:
        if draw(st.booleans()):
            attrs.append([name, draw(value)])
    if draw(st.booleans()):
        hop = {"oif": draw(st.integers(0, 2**31 - 1)), "attrs": [["RTA_GATEWAY", draw(address)]]}
        attrs.append(["RTA_MULTIPATH", [hop, {"oif": 7}]])
    kind = draw(st.sampled_from([RTM_NEWROUTE, RTM_DELROUTE]))
    return encode(rtmsg, kind, fields, attrs)


@given(routes())
@settings(max_examples=300, deadline=None)
def test_routes_decode_as_pyroute2_and_decode_py_do(data):
    expected, lean = both(data)
    assert lean == expected


@st.composite
def links(draw):
    attrs = [
        ["IFLA_IFNAME", draw(names)],
        ["IFLA_MTU", draw(u32)],
        ["IFLA_OPERSTATE", draw(st.sampled_from(["UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN"]))],
        ["IFLA_ADDRESS", ":".join(f"{b:02x}" for b in draw(st.binary(min_size=6, max_size=6)))],
    ]
    if draw(st.booleans()):
        attrs.append(["IFLA_MASTER", draw(u32)])
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["veth", "bridge", "vxlan"]))
        attrs.append(["IFLA_LINKINFO", {"attrs": [["IFLA_INFO_KIND", kind]]}])
    fields = {"index": draw(st.integers(1, 2**31 - 1)), "flags": draw(u32)}
    kind = draw(st.sampled_from([RTM_NEWLINK, RTM_DELLINK]))
    return encode(ifinfmsg, kind, fields, attrs)


@given(links())
@settings(max_examples=200, deadline=None)
def test_links_decode_alike(data):
    expected, lean = both(data)
    assert lean == expected


@st.composite
def addresses(draw):
    family = draw(st.sampled_from([2, 10]))
    address = ipv4 if family == 2 else ipv6
    attrs = [["IFA_ADDRESS", draw(address)]]
    if draw(st.booleans()):
        attrs.append(["IFA_LOCAL", draw(address)])
    if draw(st.booleans()):
        attrs.append(["IFA_FLAGS", draw(u32)])
    fields = {
        "family": family,
        "prefixlen": draw(st.integers(0, 32 if family == 2 else 128)),
        "flags": draw(st.integers(0, 255)),
        "scope": draw(st.sampled_from([0, 200, 253, 254])),
        "index": draw(st.integers(1, 2**31 - 1)),
    }
    return encode(ifaddrmsg, draw(st.sampled_from([RTM_NEWADDR, RTM_DELADDR])), fields, attrs)


@given(addresses())
@settings(max_examples=200, deadline=None)
def test_addresses_decode_alike(data):
    expected, lean = both(data)
    assert lean == expected


@st.composite
def rules(draw):
    family = draw(st.sampled_from([2, 10]))
    address = ipv4 if family == 2 else ipv6
    attrs = [["FRA_PRIORITY", draw(u32)], ["FRA_TABLE", draw(u32)]]
    for name, value in [
        ("FRA_SRC", address),
        ("FRA_DST", address),
        ("FRA_FWMARK", u32),
        ("FRA_FWMASK", u32),
        ("FRA_PROTOCOL", st.integers(0, 255)),
        ("FRA_SUPPRESS_PREFIXLEN", st.sampled_from([0, 8, 0xFFFFFFFF])),
        ("FRA_IIFNAME", names),
        ("FRA_OIFNAME", names),
    ]:
        if draw(st.booleans()):
            attrs.append([name, draw(value)])
    fields = {
        "family": family,
        "src_len": draw(st.integers(0, 32)),
        "dst_len": draw(st.integers(0, 32)),
        "table": draw(st.integers(0, 255)),
        "action": draw(st.integers(0, 8)),
    }
    return encode(fibmsg, draw(st.sampled_from([RTM_NEWRULE, RTM_DELRULE])), fields, attrs)


@given(rules())
@settings(max_examples=200, deadline=None)
def test_rules_decode_alike(data):
    expected, lean = both(data)
    assert lean == expected


def test_a_name_that_is_not_utf8_stays_visible_and_invalid():
    data = encode(ifinfmsg, RTM_NEWLINK, {"index": 3}, [["IFLA_IFNAME", "eth0"]])
    data = data.replace(b"eth0", b"et\xff0")
    (event,) = decode_datagram(data)
    assert isinstance(event, LinkChanged)
    assert event.link.name == "et\\xff0"  # refused by link_name_problem, shown in logs


def test_several_messages_in_one_datagram_and_their_types():
    first = encode(rtmsg, RTM_NEWROUTE, {"family": 2, "dst_len": 24}, [["RTA_DST", "10.1.0.0"]])
    second = encode(ndmsg, RTM_NEWNEIGH, {"family": 2, "ifindex": 3}, [])
    found = decode_all(first + second)
    assert [kind for kind, _ in found] == [RTM_NEWROUTE, RTM_NEWNEIGH]
    assert isinstance(found[0][1], RouteAdded)
    assert found[1][1] is None
    assert [m.type for m in messages(first + second)] == [RTM_NEWROUTE, RTM_NEWNEIGH]
    assert type_name(RTM_NEWROUTE) == "RTM_NEWROUTE"
    assert type_name(99) == "type-99"


def test_an_attribute_running_past_its_message_is_refused():
    data = bytearray(encode(rtmsg, RTM_NEWROUTE, {"family": 2}, [["RTA_OIF", 3]]))
    struct.pack_into("=H", data, 28, 200)  # the first attribute claims 200 bytes
    (event,) = decode_datagram(bytes(data))
    assert isinstance(event, Rejected)
    assert "overruns" in event.reason


def test_a_truncated_header_and_a_wrong_address_length_are_refused():
    data = encode(rtmsg, RTM_NEWROUTE, {"family": 2}, [])
    short = struct.pack("=IHHII", 20, RTM_NEWROUTE, 0, 0, 0) + data[16:20]
    assert isinstance(decode_datagram(short)[0], Rejected)
    four = bytearray(encode(rtmsg, RTM_NEWROUTE, {"family": 2}, [["RTA_DST", "10.0.0.1"]]))
    assert isinstance(decode_datagram(bytes(four))[0], RouteAdded)
    four[16] = 10  # now an IPv6 route whose RTA_DST has 4 bytes
    (event,) = decode_datagram(bytes(four))
    assert isinstance(event, Rejected)
    assert "4 bytes" in event.reason


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_garbage_never_raises(data):
    for kind in (RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWRULE, RTM_DELLINK):
        header = struct.pack("=IHHII", 16 + len(data), kind, 0, 0, 0)
        for decoded in decode_datagram(header + data):
            assert decoded is None or isinstance(decoded, (Rejected, *get_args(KernelEvent)))
    assert all(d is None or isinstance(d, Rejected | KernelEvent) for d in decode_datagram(data))


def test_neighbour_messages_carry_state_lladdr_protocol_and_the_managed_flag():
    from pyroute2.netlink.rtnl import RTM_DELNEIGH

    from netevd.core.events import NeighbourChanged, NeighbourRemoved
    from netevd.core.model import Neigh

    attrs = [
        ["NDA_DST", "10.9.0.1"],
        ["NDA_LLADDR", "02:00:00:00:00:99"],
        ["NDA_PROTOCOL", 78],
        ["NDA_FLAGS_EXT", 1],
    ]
    data = encode(ndmsg, RTM_NEWNEIGH, {"family": 2, "ifindex": 3, "state": 0x20}, attrs)
    (event,) = decode_datagram(data)
    assert event == NeighbourChanged(Neigh(3, 2, "10.9.0.1", 0x20, "02:00:00:00:00:99", 78, 1))
    assert event.neigh.state_name == "failed"
    six = encode(
        ndmsg, RTM_DELNEIGH, {"family": 10, "ifindex": 4, "state": 2}, [["NDA_DST", "fe80::1"]]
    )
    assert decode_datagram(six) == [NeighbourRemoved(Neigh(4, 10, "fe80::1", 2))]
    bridge = encode(
        ndmsg, RTM_NEWNEIGH, {"family": 7, "ifindex": 3}, [["NDA_LLADDR", "02:00:00:00:00:01"]]
    )
    assert decode_datagram(bridge) == [None]  # the bridge's forwarding database: not ours
