"""The resolve1 / hostname1 request builders: validated values in, systemd 252's arguments out."""

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netevd.bus.caller import Invalid, Request
from netevd.executors.names.requests import (
    revert_link,
    set_hostname,
    set_link_dns,
    set_link_domains,
)

RESOLVE = (
    "org.freedesktop.resolve1",
    "/org/freedesktop/resolve1",
    "org.freedesktop.resolve1.Manager",
)


def test_dns_servers_carry_their_family_and_bytes():
    request = set_link_dns(3, ["10.231.99.53", "fd00:231:99::53", "10.231.99.53"])
    v6 = ipaddress.IPv6Address("fd00:231:99::53").packed
    assert request == Request(
        *RESOLVE, "SetLinkDNS", "ia(iay)", (3, ((2, bytes([10, 231, 99, 53])), (10, v6)))
    )
    assert len(v6) == 16


def test_no_servers_clears_the_link():
    assert set_link_dns(3, []) == Request(*RESOLVE, "SetLinkDNS", "ia(iay)", (3, ()))


@pytest.mark.parametrize(
    "servers",
    [["10.0.0.300"], ["$(reboot)"], ["fe80::1%eth0"], ["10.0.0.1 "], ["10.0.0.1"] * 33],
)
def test_bad_servers_are_refused(servers):
    assert isinstance(set_link_dns(3, servers), Invalid)


@pytest.mark.parametrize("ifindex", [0, -1, 2**31, True, "3", 2.0])
def test_bad_ifindexes_are_refused(ifindex):
    for request in (set_link_dns(ifindex, []), set_link_domains(ifindex, []), revert_link(ifindex)):
        assert isinstance(request, Invalid)


def test_search_domains_are_not_routing_only():
    request = set_link_domains(7, ["lab.test.", "example.org", "lab.test"])
    assert request == Request(
        *RESOLVE, "SetLinkDomains", "ia(sb)", (7, (("lab.test", False), ("example.org", False)))
    )


@pytest.mark.parametrize("domain", ["bad..name", "a b", "x;rm", "", "-a.test", "a" * 64 + ".test"])
def test_bad_domains_are_refused(domain):
    assert isinstance(set_link_domains(7, [domain]), Invalid)


def test_revert():
    assert revert_link(9) == Request(*RESOLVE, "RevertLink", "i", (9,))


def test_hostname_is_never_interactive():
    assert set_hostname("client-one.lab.test") == Request(
        "org.freedesktop.hostname1",
        "/org/freedesktop/hostname1",
        "org.freedesktop.hostname1",
        "SetHostname",
        "sb",
        ("client-one.lab.test", False),
    )


def hostname_is_valid(name: str) -> bool:
    """systemd 252's hostname_is_valid(name, 0), restated: at most 64 characters, labels of
    letters, digits and hyphens, no empty label, no hyphen at a label's start or end, no
    trailing dot; plus DNS's 63-character label limit, where netevd is stricter than systemd
    (a 64-character label is a name no resolver could look up)."""
    if not name or len(name) > 64:
        return False
    label = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
    return all(label.fullmatch(part) for part in name.split("."))


@pytest.mark.parametrize(
    "name",
    [
        "client-one",
        "a.b.c",
        "x" * 63,
        "x" * 64,
        "a." * 31 + "bc",
        "host.",
        "bad_name",
        "-x",
        "x-",
        "$(id)",
        "a" * 65,
        "",
    ],
)
def test_hostname_rule(name):
    assert isinstance(set_hostname(name), Request) == hostname_is_valid(name)


@given(st.text(alphabet=st.sampled_from("ab-._.1$ ;é"), max_size=70))
def test_hostname_builder_agrees_with_systemd(name):
    assert isinstance(set_hostname(name), Request) == hostname_is_valid(name)
