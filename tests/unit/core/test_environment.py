import pytest

from netevd.core.environment import MAX_VALUE, check, link_name_problem, validated


@pytest.mark.parametrize(
    "name", ["eth0", "enp0s31f6", "br-abc123", "wlan0.100", "veth+x", "a@b", "_x"]
)
def test_safe_link_names(name):
    assert link_name_problem(name) is None


@pytest.mark.parametrize(
    "name", ["x$(id)", "y;id", "a`b`", "q'x", 'd"q', "a b", "", "-x", "x" * 16, "a\nb", "é"]
)
def test_unsafe_link_names(name):
    assert link_name_problem(name) == (
        "interface name has characters outside A-Z a-z 0-9 _ . + @ = - "
        "(or is empty or longer than 15)"
    )


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("LINK", "eth0", None),
        ("LINK", "x$(id)", "not a safe interface name"),
        ("LINKINDEX", "12", None),
        ("LINKINDEX", "1x", "not a number"),
        ("LINKINDEX", "١٢", "not a number"),
        ("ADDRESSES", "10.0.0.1 fd00::1", None),
        ("ADDRESSES", "10.0.0.1/24 fd00::1/64", None),
        ("ADDRESSES", "10.0.0.1 $(id)", "not a list of addresses"),
        ("GATEWAY", "fe80::1%eth0", None),
        ("GATEWAY", "10.0.0.256", "not an IP address"),
        ("DHCP_DNS", "10.0.0.53 fd00::53", None),
        ("DHCP_DNS", "10.0.0.53;reboot", "not a list of IP addresses"),
        ("DHCP_HOSTNAME", "host_1.example.com.", None),
        ("DHCP_HOSTNAME", "$(reboot)", "not a host name"),
        ("DHCP_DOMAIN", "example.com lab.test", None),
        ("DHCP_DOMAIN", "exa mple`x`", "not a list of domain names"),
        ("JSON", '{"a": 1}', None),
        ("JSON", "{nope", "not valid JSON"),
        ("NETEVD_REPLAY", "2", "not 0 or 1"),
        ("STATE", "../../tmp/x", "not a state word"),
        ("SOMETHING", "plain text, ok", None),
        ("SOMETHING", "rm -rf / #", "has characters a shell would interpret"),
        ("SOMETHING", "a\x00b", "contains a NUL byte"),
        ("NETEVD_JSON_FILE", "/run/netevd/json/1.json", None),
        ("NETEVD_JSON_FILE", "relative", "not a safe path"),
    ],
)
def test_check(name, value, problem):
    assert check(name, value) == problem


def test_size_limit_counts_the_name():
    assert check("JSON", '"' + "a" * (MAX_VALUE - 8) + '"') is None
    assert check("JSON", '"' + "a" * MAX_VALUE + '"') == f"longer than {MAX_VALUE} bytes"


def test_validated_splits_and_skips_empty_values():
    env, dropped = validated(
        {"LINK": "eth0", "GATEWAY": "", "ADDRESSES": "bogus", "STATE": "routable"}
    )
    assert env == (("LINK", "eth0"), ("STATE", "routable"))
    assert dropped == (("ADDRESSES", "not a list of addresses"),)
