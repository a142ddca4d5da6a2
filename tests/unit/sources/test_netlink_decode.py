"""The netlink decoder on messages encoded to bytes and parsed back as the kernel's would be."""

import pytest
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

from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    RouteRemoved,
    RuleAdded,
    RuleRemoved,
)
from netevd.core.model import Addr, Link, Route, Rule
from tests.unit.kernel.oracle import decode


def wire(msg_class, msg_type, fields, attrs):
    msg = msg_class()
    for key, value in fields.items():
        msg[key] = value
    msg["attrs"] = attrs
    msg["header"]["type"] = msg_type
    msg.encode()
    (parsed,) = MarshalRtnl().parse(msg.data)
    return parsed


def link_msg(msg_type=RTM_NEWLINK, name="eth0"):
    return wire(
        ifinfmsg,
        msg_type,
        {"index": 3, "flags": 0x11043},
        [
            ["IFLA_IFNAME", name],
            ["IFLA_MTU", 1500],
            ["IFLA_OPERSTATE", "UP"],
            ["IFLA_ADDRESS", "02:00:00:00:00:03"],
            ["IFLA_MASTER", 7],
            ["IFLA_LINKINFO", {"attrs": [["IFLA_INFO_KIND", "veth"]]}],
        ],
    )


def test_link():
    assert decode(link_msg()) == LinkChanged(
        Link(
            index=3,
            name="eth0",
            flags=0x11043,
            mtu=1500,
            mac="02:00:00:00:00:03",
            operstate="UP",
            kind="veth",
            master=7,
        )
    )
    assert decode(link_msg(RTM_DELLINK)) == LinkRemoved(3)


def test_shell_metacharacters_survive_decoding_verbatim():
    assert decode(link_msg(name="x$(id)")).link.name == "x$(id)"


@pytest.mark.parametrize(
    ("msg_type", "event"), [(RTM_NEWADDR, AddressAdded), (RTM_DELADDR, AddressRemoved)]
)
def test_ipv4_address_prefers_local(msg_type, event):
    msg = wire(
        ifaddrmsg,
        msg_type,
        {"family": 2, "prefixlen": 32, "index": 3, "scope": 0},
        [["IFA_ADDRESS", "10.0.0.9"], ["IFA_LOCAL", "10.0.0.1"], ["IFA_FLAGS", 0x80]],
    )
    assert decode(msg) == event(
        Addr(index=3, family=2, address="10.0.0.1", prefixlen=32, scope=0, flags=0x80)
    )


def test_ipv6_address_and_garbage():
    msg = wire(
        ifaddrmsg,
        RTM_NEWADDR,
        {"family": 10, "prefixlen": 64, "index": 3, "scope": 253, "flags": 0x2},
        [["IFA_ADDRESS", "fe80::1"]],
    )
    assert decode(msg) == AddressAdded(Addr(3, 10, "fe80::1", 64, 253, 0x2))
    assert decode(wire(ifaddrmsg, RTM_NEWADDR, {"family": 10, "index": 3}, [])) is None
    assert (
        decode(
            wire(ifaddrmsg, RTM_NEWADDR, {"family": 7, "index": 3}, [["IFA_ADDRESS", "10.0.0.1"]])
        )
        is None
    )


def test_routes_default_table_and_multipath():
    msg = wire(
        rtmsg,
        RTM_NEWROUTE,
        {"family": 2, "dst_len": 0, "table": 254, "proto": 16, "scope": 0, "type": 1},
        [["RTA_GATEWAY", "10.0.0.1"], ["RTA_OIF", 3], ["RTA_PRIORITY", 100], ["RTA_TABLE", 1000]],
    )
    assert decode(msg) == RouteAdded(
        Route(
            family=2,
            table=1000,
            dst="0.0.0.0/0",
            gateway="10.0.0.1",
            oif=3,
            protocol=16,
            priority=100,
        )
    )
    six = wire(
        rtmsg,
        RTM_DELROUTE,
        {"family": 10, "dst_len": 64, "table": 254, "type": 1},
        [["RTA_DST", "fd00::"], ["RTA_OIF", 4]],
    )
    assert decode(six) == RouteRemoved(Route(family=10, table=254, dst="fd00::/64", oif=4))
    multi = wire(
        rtmsg,
        RTM_NEWROUTE,
        {"family": 2, "dst_len": 8, "table": 254, "type": 1},
        [
            ["RTA_DST", "10.0.0.0"],
            ["RTA_TABLE", 254],
            [
                "RTA_MULTIPATH",
                [
                    {"oif": 5, "attrs": [["RTA_GATEWAY", "10.1.1.1"]]},
                    {"oif": 6, "attrs": [["RTA_GATEWAY", "10.2.2.2"]]},
                ],
            ],
        ],
    )
    decoded = decode(multi).route
    assert (decoded.oif, decoded.gateway) == (5, "10.1.1.1")
    assert decode(wire(rtmsg, RTM_NEWROUTE, {"family": 28}, [])) is None


def test_rules():
    msg = wire(
        fibmsg,
        RTM_NEWRULE,
        {"family": 2, "src_len": 32, "table": 203, "action": 1},
        [
            ["FRA_SRC", "10.0.0.1"],
            ["FRA_PRIORITY", 1000],
            ["FRA_TABLE", 203],
            ["FRA_PROTOCOL", 78],
            ["FRA_SUPPRESS_PREFIXLEN", 0xFFFFFFFF],
        ],
    )
    assert decode(msg) == RuleAdded(
        Rule(family=2, priority=1000, table=203, src="10.0.0.1/32", protocol=78)
    )
    six = wire(
        fibmsg,
        RTM_DELRULE,
        {"family": 10, "dst_len": 128, "table": 203, "action": 1},
        [
            ["FRA_DST", "fd00::1"],
            ["FRA_PRIORITY", 1001],
            ["FRA_TABLE", 203],
            ["FRA_SUPPRESS_PREFIXLEN", 0],
        ],
    )
    assert decode(six) == RuleRemoved(
        Rule(family=10, priority=1001, table=203, dst="fd00::1/128", suppress_prefixlen=0)
    )
    assert decode(wire(fibmsg, RTM_NEWRULE, {"family": 128}, [])) is None


def test_unmodelled_messages_are_ignored():
    assert decode(wire(ndmsg, RTM_NEWNEIGH, {"family": 2, "ifindex": 3}, [])) is None
