"""The dhclient lease parser on files the real dhclient 4.4.3 wrote here, and on what it must
refuse. ``tests/unit/data/dhclient`` was recorded by ``record.py`` there (dnsmasq offering a
router, two DNS servers, a domain, domain-search, a host name and a 4 s renewal time)."""

from dataclasses import replace
from pathlib import Path

import pytest
from dhclient_writer import v4_block, v6_block

from netevd.core.dhcp.lease import (
    MAX_PROBLEMS,
    MAX_TEXT,
    current_lease,
    last_lease,
    lease_key,
    lost_reason,
    parse_leases,
    same_lease,
)
from netevd.core.dhcp.syntax import unescape
from netevd.core.model import Lease

DATA = Path(__file__).parent.parent / "data" / "dhclient"
EXPIRE = 1795677722  # renewals.leases: the newest block's expire time (4 2026/11/26 07:22:02)


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


BASE = Lease(
    interface="eth0",
    family=4,
    address="10.231.99.140",
    prefixlen=24,
    subnet_mask="255.255.255.0",
    routers=("10.231.99.1",),
    dns=("10.231.99.53", "10.231.99.54"),
    domain="lab.test",
    search=("lab.test", "example.org"),
    host_name="client-one",
    lease_time=3600,
    server="10.231.99.1",
    broadcast="10.231.99.255",
    renew=1795674126,
    rebind=1795677272,
    expire=EXPIRE,
)


def test_a_real_dhclient_file_with_renewals():
    result = parse_leases(read("renewals.leases"))
    assert result.problems == ()
    assert result.complete
    assert len(result.leases) == 4
    assert result.leases[-1] == BASE
    # a renewal appends a block that differs only in its timers
    assert {lease_key(lease) for lease in result.leases} == {lease_key(BASE)}
    assert len({lease.expire for lease in result.leases}) == 4
    assert current_lease(result.leases, "eth0", EXPIRE - 1) == BASE
    assert current_lease(result.leases, "eth0", EXPIRE) is None
    assert lost_reason(BASE, EXPIRE) == "expired"


def test_a_new_address_after_the_server_changed_its_range():
    result = parse_leases(read("new-address.leases"))
    assert result.problems == ()
    addresses = [lease.address for lease in result.leases]
    assert addresses == ["10.231.99.140"] * 4 + ["10.231.99.216"] * 3
    now = result.leases[-1].renew
    current = current_lease(result.leases, "eth0", now)
    assert current is not None
    assert current.address == "10.231.99.216"
    assert not same_lease(current, result.leases[0])


def test_a_release_reads_as_released_even_though_older_blocks_have_not_expired():
    result = parse_leases(read("released.leases"))
    assert result.problems == ()
    last = result.leases[-1]
    assert last.renew == last.rebind == last.expire  # dhclient -r: all set to the release time
    assert current_lease(result.leases, "eth0", last.expire) is None
    assert lost_reason(last, last.expire) == "released"
    # the block before it is the same address, unexpired: history, not the current lease
    assert result.leases[-2].expire > last.expire
    assert last_lease(result.leases, "eth0") == last


def test_dhclient6_lease_and_its_release():
    bound = parse_leases(read("dhclient6.leases"))
    assert bound.problems == ()  # default-duid is understood and skipped
    (lease,) = bound.leases
    assert lease == Lease(
        interface="eth0",
        family=6,
        address="fd00:231:99::116",
        prefixlen=128,
        dns=("fd00:231:99::53", "fd00:231:99::54"),
        search=("lab.test", "example.org"),
        lease_time=3600,
        renew=1795674208 + 1800,
        rebind=1795674208 + 3150,
        expire=1795674208 + 3600,
    )
    assert current_lease(bound.leases, "eth0", 1795674208, family=6) == lease
    assert current_lease(bound.leases, "eth0", 1795674208, family=4) is None
    released = parse_leases(read("dhclient6-released.leases"))
    assert [x.released for x in released.leases] == [False, True]
    assert current_lease(released.leases, "eth0", 1795674208) is None
    assert lost_reason(released.leases[-1], 1795674208) == "released"


def test_option_order_does_not_matter():
    forward = parse_leases(v4_block(BASE)).leases
    backward = parse_leases(v4_block(BASE, order=range(20, -1, -1))).leases
    assert forward == backward == (BASE,)


@pytest.mark.parametrize("style", ["utc", "epoch"])
def test_time_formats(style):
    (lease,) = parse_leases(v4_block(BASE, style=style)).leases
    assert (lease.renew, lease.rebind, lease.expire) == (BASE.renew, BASE.rebind, BASE.expire)


def test_never_expires():
    text = v4_block(replace(BASE, renew=None, rebind=None, expire=None))
    assert "expire never;" in text
    (lease,) = parse_leases(text).leases
    assert lease.expire is None
    assert current_lease([lease], "eth0", 2**40) == lease


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("address", "10.231.99.141"),
        ("subnet_mask", "255.255.0.0"),
        ("routers", ("10.231.99.2",)),
        ("dns", ("10.231.99.54", "10.231.99.53")),
        ("domain", "other.test"),
        ("search", ("lab.test",)),
        ("host_name", "client-two"),
        ("lease_time", 7200),
    ],
)
def test_the_key_changes_with_what_scripts_see(field, value):
    changed = replace(BASE, **{field: value})
    assert not same_lease(BASE, changed)


def test_the_key_ignores_the_timers_and_the_server():
    renewed = replace(BASE, renew=1, rebind=2, expire=3, server="10.0.0.9", line=99)
    assert same_lease(BASE, renewed)
    assert same_lease(None, None)
    assert not same_lease(BASE, None)


def test_escapes_in_strings():
    assert unescape(r"a\"b\\c\101\$\(x\)") == 'a"b\\cA$(x)'
    text = v4_block(replace(BASE, host_name=None)).replace(
        "}", '  option domain-name "lab\\056test";\n}'
    )
    (lease,) = parse_leases(text).leases
    assert lease.domain == "lab.test"


@pytest.mark.parametrize(
    "name",
    [
        "e$(reboot)",
        "eth0;id",
        'a\\"b',
        "`id`",
        "eth 0",
        "a/b",
        "very-long-name-16",
        "",
        ".",
        "-eth0",
        "eth0\\012x",
    ],
)
def test_a_hostile_interface_name_costs_its_block_only(name):
    text = v4_block(BASE, interface=name) + v4_block(replace(BASE, interface="eth1"))
    result = parse_leases(text)
    assert [lease.interface for lease in result.leases] == ["eth1"]
    assert any("interface" in p.detail for p in result.problems)


def test_a_hostile_host_name_is_dropped_and_the_lease_kept():
    text = v4_block(BASE).replace('"client-one"', r'"\$(reboot)"')
    result = parse_leases(text)
    (lease,) = result.leases
    assert lease.host_name is None
    assert lease.address == BASE.address
    assert [p.kind for p in result.problems] == ["invalid"]
    assert "host name" in result.problems[0].detail


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("option routers 10.231.99.1;", "option routers 10.231.99.1,300.1.1.1;", "routers"),
        ("10.231.99.53,10.231.99.54", "10.231.99.53,,10.231.99.54", "dns"),
        ("10.231.99.53,10.231.99.54", "fd00::53", "dns"),
        ('"lab.test.", "example.org."', '"lab..test"', "search"),
        ("subnet-mask 255.255.255.0", "subnet-mask 255.0.255.0", "subnet_mask"),
        ("dhcp-lease-time 3600", "dhcp-lease-time 99999999999", "lease_time"),
        ('domain-name "lab.test"', 'domain-name "lab.test;rm"', "domain"),
    ],
)
def test_a_bad_optional_value_is_left_out(old, new, field):
    text = v4_block(BASE)
    assert old in text
    result = parse_leases(text.replace(old, new))
    (lease,) = result.leases
    assert getattr(lease, field) in (None, ())
    assert len(result.problems) == 1


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("fixed-address 10.231.99.140;", "fixed-address 10.231.99.1400;"),
        ("fixed-address 10.231.99.140;", "fixed-address fd00::1;"),
        ("fixed-address 10.231.99.140;", ""),
        ("expire 4 2026/11/26 07:22:02;", "expire 4 2026/13/26 07:22:02;"),
        ("expire 4 2026/11/26 07:22:02;", "expire 4 2026/02/30 07:22:02;"),
        ("expire 4 2026/11/26 07:22:02;", "expire tomorrow;"),
        ("expire 4 2026/11/26 07:22:02;", ""),
        ('interface "eth0";', ""),
    ],
)
def test_a_block_without_a_valid_address_expiry_or_interface_is_skipped(old, new):
    text = v4_block(BASE)
    assert old in text
    result = parse_leases(text.replace(old, new))
    assert result.leases == ()
    assert result.problems


def test_a_truncated_file_is_incomplete_and_keeps_its_whole_blocks():
    whole = v4_block(BASE)
    text = whole + whole[: len(whole) // 2]
    result = parse_leases(text)
    assert result.leases == (BASE,)
    assert not result.complete
    assert result.problems[-1].kind == "truncated"


def test_a_block_cut_short_by_the_next_one_is_abandoned():
    first = v4_block(replace(BASE, address="10.231.99.1"))
    cut = first[: first.index("  renew")]  # dhclient died mid-block, then a new one appended
    result = parse_leases(cut + v4_block(BASE))
    assert result.leases == (BASE,)
    assert result.complete
    assert [p.kind for p in result.problems] == ["truncated"]


def test_nesting_and_stray_braces_cost_only_their_block():
    nested = "lease {\n" + "  x {\n" * 10 + "  }\n" * 10 + "}\n"
    result = parse_leases("}};\n" + nested + v4_block(BASE))
    assert result.leases == (BASE,)
    kinds = {p.kind for p in result.problems}
    assert {"nesting", "syntax"} <= kinds


def test_comments_blank_statements_and_unknown_top_level_statements():
    text = "# dhclient\n\nauthoring-byte-order little-endian;\n" + v4_block(BASE).replace(
        "  renew", "  # a comment { with a brace\n  ;\n  renew"
    )
    result = parse_leases(text)
    assert result.leases == (BASE,)
    assert [p.kind for p in result.problems] == ["unknown"]


def test_text_over_the_limit_is_refused_without_reading():
    result = parse_leases("#" * (MAX_TEXT + 1))
    assert result.leases == ()
    assert "longer than" in result.problems[0].detail


def test_binary_and_empty_input():
    assert parse_leases(b"").leases == ()
    assert parse_leases(b"").complete
    result = parse_leases(bytes(range(256)) * 4)
    assert result.leases == ()
    assert result.problems


def test_v6_with_a_delegated_prefix_only():
    text = (
        'lease6 {\n  interface "eth0";\n  ia-pd 1:2:3:4 {\n    starts 100;\n    renew 10;\n'
        "    rebind 20;\n    iaprefix fd00:1:2::/56 {\n      starts 100;\n"
        "      preferred-life 30;\n      max-life 40;\n    }\n  }\n}\n"
    )
    (lease,) = parse_leases(text).leases
    assert lease.address is None
    assert lease.prefixes == ("fd00:1:2::/56",)
    assert (lease.renew, lease.rebind, lease.expire, lease.lease_time) == (110, 120, 140, 40)


def test_v6_infinite_lifetime_never_expires():
    text = v6_block("eth0", "fd00::5", starts=100, t1=10, t2=20, max_life=0xFFFFFFFF)
    (lease,) = parse_leases(text).leases
    assert (lease.expire, lease.lease_time) == (None, None)


def test_v6_refuses_a_v4_address_and_a_v4_name_server():
    text = v6_block("eth0", "10.0.0.1", starts=100, t1=10, t2=20, max_life=40)
    assert parse_leases(text).leases == ()
    text = v6_block("eth0", "fd00::5", starts=100, t1=10, t2=20, max_life=40, dns=["10.0.0.1"])
    (lease,) = parse_leases(text).leases
    assert lease.dns == ()


def test_an_address_with_a_scope_is_refused():
    text = v4_block(BASE).replace("option routers 10.231.99.1;", "option routers fe80::1%$(x);")
    (lease,) = parse_leases(text).leases
    assert lease.routers == ()
    text = v6_block("eth0", "fe80::5%eth0", starts=1, t1=1, t2=1, max_life=9)
    assert parse_leases(text).leases == ()


@pytest.mark.parametrize("name", ['x";z"', 'x";}lease{"', 'eth0";#', 'a"{b', 'x" ;y"'])
def test_a_quote_in_an_interface_name_cannot_spoof_another_link(name):
    """dhclient writes the name unescaped: ``interface "x";z"";`` must not read as "x"."""
    text = v4_block(BASE, interface=name) + v4_block(replace(BASE, interface="eth1"))
    assert f'interface "{name}";' in text
    result = parse_leases(text)
    assert [lease.interface for lease in result.leases] == ["eth1"]
    assert result.problems


def test_statements_must_begin_their_lines():
    text = v4_block(BASE).replace(";\n  option routers", "; option routers")
    result = parse_leases(text)
    assert result.leases == ()
    assert "middle of a line" in result.problems[0].detail


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("option routers 10.231.99.1;", 'option routers "10.231.99.1";', "routers"),
        ('"lab.test.", "example.org."', "lab.test, example.org", "search"),
        ('"lab.test.", "example.org."', '"lab.test.",', "search"),
        ("10.231.99.53,10.231.99.54", "10.231.99.53 10.231.99.54", "dns"),
    ],
)
def test_a_value_list_of_the_wrong_shape_is_left_out(old, new, field):
    result = parse_leases(v4_block(BASE).replace(old, new))
    (lease,) = result.leases
    assert getattr(lease, field) == ()
    assert len(result.problems) == 1


def test_a_nested_block_in_an_ipv4_lease_is_reported_and_skipped():
    text = v4_block(BASE).replace("  renew", "  option x {\n    y;\n  }\n  renew")
    result = parse_leases(text)
    assert result.leases == (BASE,)
    assert "unexpected block" in result.problems[0].detail


@pytest.mark.parametrize("prefix", ["fd00:1:2::1/56", "fd00::/129", "10.0.0.0/8", "fd00::"])
def test_v6_a_bad_delegated_prefix_costs_its_lease(prefix):
    text = (
        'lease6 {\n  interface "eth0";\n  ia-pd 1:2:3:4 {\n    starts 100;\n'
        f"    iaprefix {prefix} {{\n      starts 100;\n      max-life 40;\n    }}\n"
        "    iaaddr fd00::9 {\n      starts 100;\n      max-life 40;\n    }\n  }\n}\n"
    )
    result = parse_leases(text)
    assert result.leases == ()  # an iaaddr inside ia-pd is not an address either
    assert result.problems


def test_an_absurdly_long_statement_costs_its_block():
    text = v4_block(BASE).replace("10.231.99.53,10.231.99.54", ",".join(["10.0.0.1"] * 300))
    result = parse_leases(text + v4_block(replace(BASE, interface="eth1")))
    assert [lease.interface for lease in result.leases] == ["eth1"]
    assert "longer than" in result.problems[0].detail


@pytest.mark.parametrize("name", ["et\\h0", "\\0", "eth\\060"])
def test_a_backslash_in_an_interface_name_cannot_spoof_another_link(name):
    """``interface "et\\h0";`` unescaped would read as eth0: dhclient never escapes names."""
    result = parse_leases(v4_block(BASE, interface=name))
    assert result.leases == ()
    assert "backslash" in result.problems[0].detail


def test_problems_are_listed_up_to_a_limit():
    result = parse_leases("lease {\n" * 5000)
    assert len(result.problems) == MAX_PROBLEMS + 1
    assert result.problems[-1].detail == f"{5000 - MAX_PROBLEMS} more problems not listed"
