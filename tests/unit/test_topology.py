"""Topology validation: every error message is part of the interface, asserted word for word."""

import ipaddress

import pytest

from lab import ROOT, Lab, Topology, TopologyError


def base() -> Topology:
    t = Topology()
    t.add_netns("host")
    t.add_netns("peer")
    t.add_veth("eth0", "host", "eth0", "peer", index=10, peer_index=11)
    return t


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda t: t.add_netns("host"), "duplicate namespace 'host'"),
        (lambda t: t.add_netns("a b"), "namespace name 'a b' must be letters, digits, '-' or '_'"),
        (
            lambda t: t.add_veth("x", "nowhere", "y", "host"),
            "unknown namespace 'nowhere' (declare it with add_netns first)",
        ),
        (
            lambda t: t.add_veth("eth0", "host", "eth9", "peer"),
            "duplicate link 'eth0' in namespace 'host'",
        ),
        (
            lambda t: t.add_veth("abcdefghijklmnop", "host", "x", "peer"),
            "link name 'abcdefghijklmnop' is 16 bytes; Linux allows at most 15",
        ),
        (
            lambda t: t.add_veth("a/b", "host", "x", "peer"),
            "link name 'a/b' contains '/', ':' or white space, which Linux does not allow",
        ),
        (lambda t: t.add_veth("", "host", "x", "peer"), "link name must not be empty"),
        (
            lambda t: t.add_veth("v0", ROOT, "v1", "peer"),
            "link 'v0' would be created in the root namespace; pass root_ok=True to allow it",
        ),
        (
            lambda t: t.add_veth("v0", "host", "v1", "peer", index=10),
            "ifindex 10 used twice in namespace 'host'",
        ),
        (
            lambda t: t.add_veth("v0", "host", "v1", "peer", index=1),
            "ifindex 1 for 'v0' must be 2..2147483647",
        ),
        (lambda t: t.add_veth("v0", "host", "v0", "host"), "veth 'v0' cannot be its own peer"),
        (
            lambda t: t.add_address("host", "eth7", "10.0.0.1/24"),
            "unknown link 'eth7' in namespace 'host'",
        ),
        (
            lambda t: t.add_address("host", "eth0", "10.0.0.300/24"),
            "address '10.0.0.300/24' on host/eth0 is not an IP interface (want ADDR/PREFIX)",
        ),
        (
            lambda t: t.add_address("host", "eth0", "10.0.0.1"),
            "address '10.0.0.1' on host/eth0 needs a prefix length",
        ),
        (
            lambda t: t.add_address("host", "eth0", "10.0.0.1/24").add_address(
                "host", "eth0", "10.0.0.1/16"
            ),
            "duplicate address 10.0.0.1 in namespace 'host'",
        ),
        (
            lambda t: t.add_route("host", "10.1.0.0/16"),
            "route 10.1.0.0/16 in 'host' needs via= or dev=",
        ),
        (
            lambda t: t.add_route("host", "10.1.0.1/16", dev="eth0"),
            "route destination '10.1.0.1/16' in 'host' is not a prefix (want NET/LEN, "
            "'default' or 'default6', with host bits zero)",
        ),
        (
            lambda t: t.add_route("host", "default", via="gateway"),
            "route default in 'host': gateway 'gateway' is not an IP address",
        ),
        (
            lambda t: t.add_route("host", "10.1.0.0/16", via="fd00::1"),
            "route 10.1.0.0/16 in 'host': gateway fd00::1 is of another family",
        ),
        (
            lambda t: t.add_route("host", "default", via="10.0.0.1", table=0),
            "route default in 'host': table 0 is out of range",
        ),
        (
            lambda t: t.add_sysctl("host", "net/../../etc", "1"),
            "sysctl key 'net/../../etc' must be dotted words like net.ipv4.ip_forward",
        ),
        (
            lambda t: t.add_sysctl("host", "net..ipv4", "1"),
            "sysctl key 'net..ipv4' must be dotted words like net.ipv4.ip_forward",
        ),
        (
            lambda t: t.add_port("eth0", "host", "eth0"),
            "link 'eth0' in namespace 'host' is not a bridge",
        ),
        (lambda t: t.add_link("v", "host", "veth"), "use add_veth for veth pairs"),
    ],
)
def test_validation_messages(build, message):
    topo = base()
    with pytest.raises(TopologyError) as info:
        build(topo)
    assert str(info.value) == message


def test_bridge_port_twice():
    topo = base().add_bridge("br0", "host", ports=["eth0"])
    with pytest.raises(
        TopologyError, match=r"^link 'eth0' in namespace 'host' is already a bridge port$"
    ):
        topo.add_port("br0", "host", "eth0")


def test_routes_never_go_to_the_root_namespace():
    with pytest.raises(TopologyError, match=r"^the lab never adds routes to the root namespace$"):
        base().add_route(ROOT, "default", via="10.0.0.1")


def test_default_routes_pick_their_family():
    topo = base()
    topo.add_route("host", "default", via="10.0.0.1")
    topo.add_route("host", "default", via="fd00::1")
    topo.add_route("host", "default6", dev="eth0")
    assert [str(r.dst) for r in topo.routes] == ["0.0.0.0/0", "::/0", "::/0"]


def test_forwarding_adds_both_families():
    topo = Topology().add_netns("r", forwarding=True)
    assert [(s.key, s.value) for s in topo.sysctls] == [
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv6.conf.all.forwarding", "1"),
    ]


def test_veth_records_both_ends():
    topo = base()
    assert [(link.ns, link.name, link.index, link.peer) for link in topo.links] == [
        ("host", "eth0", 10, "eth0"),
        ("peer", "eth0", 11, "eth0"),
    ]
    assert topo.addresses == []
    topo.add_address("host", "eth0", "fd00::1/64")
    assert topo.addresses[0].interface == ipaddress.ip_interface("fd00::1/64")


def test_lab_names_are_prefixed():
    topo = base()
    lab = Lab(topo, prefix="nvtest-")
    assert lab.ns("host") == "nvtest-host"
    assert lab.link_name("eth0", "host") == "eth0"
    assert lab.link_name("eth0", ROOT) == "nvtest-eth0"
    with pytest.raises(TopologyError, match=r"^unknown namespace 'x'"):
        lab.ns("x")


def test_lab_rejects_bad_prefix_and_long_root_links():
    with pytest.raises(TopologyError) as info:
        Lab(base(), prefix="Bad")
    assert str(info.value) == (
        "prefix 'Bad' must be 2 to 11 lowercase letters or digits, starting with a letter, "
        "followed by '-'"
    )
    topo = base().add_veth("longname1", ROOT, "x", "host", root_ok=True)
    with pytest.raises(TopologyError) as info:
        Lab(topo, prefix="nvtest-")
    assert str(info.value) == (
        "root-namespace link 'nvtest-longname1' (prefix + name) exceeds 15 bytes"
    )
