"""Properties of the lease parser: it never raises, what it writes back it reads back, and
nothing it returns from garbage holds a value a script or D-Bus call must not get."""

import ipaddress
from pathlib import Path

from dhclient_writer import v4_block, v6_block
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from netevd.core.dhcp.lease import lease_key, parse_leases
from netevd.core.environment import check
from netevd.core.model import Lease

DATA = Path(__file__).parent.parent / "data" / "dhclient"
REAL = [p.read_text() for p in sorted(DATA.glob("*.leases"))]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

interfaces = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+@=-]{0,14}", fullmatch=True)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
host_label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?", fullmatch=True)
domain_label = st.from_regex(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,20}[A-Za-z0-9_])?", fullmatch=True)
host_names = st.lists(host_label, min_size=1, max_size=4).map(".".join)
domains = st.lists(domain_label, min_size=1, max_size=4).map(".".join)
utc_times = st.integers(0, 253402300799)  # 9999-12-31 23:59:59, the last the format holds
u32 = st.integers(0, 2**32 - 1)


@st.composite
def v4_leases(draw: st.DrawFn) -> Lease:
    prefixlen = draw(st.integers(0, 32))
    mask = draw(st.none() | st.just(str(ipaddress.IPv4Network(f"0.0.0.0/{prefixlen}").netmask)))
    return Lease(
        interface=draw(interfaces),
        family=4,
        address=draw(ipv4),
        prefixlen=None if mask is None else prefixlen,
        subnet_mask=mask,
        routers=tuple(draw(st.lists(ipv4, max_size=3))),
        dns=tuple(draw(st.lists(ipv4, max_size=4))),
        domain=draw(st.none() | st.lists(domains, min_size=1, max_size=3).map(" ".join)),
        search=tuple(draw(st.lists(domains, max_size=4))),
        host_name=draw(st.none() | host_names),
        lease_time=draw(st.none() | u32),
        server=draw(st.none() | ipv4),
        broadcast=draw(st.none() | ipv4),
        mtu=draw(st.none() | st.integers(68, 65535)),
        renew=draw(st.none() | utc_times),
        rebind=draw(st.none() | utc_times),
        expire=draw(st.none() | utc_times),
    )


@SETTINGS
@given(v4_leases(), st.lists(st.integers(0, 12), max_size=12), st.sampled_from(["utc", "epoch"]))
def test_v4_round_trip(lease, order, style):
    result = parse_leases(v4_block(lease, order=order, style=style))
    assert result.problems == ()
    assert result.leases == (lease,)


@SETTINGS
@given(
    interfaces,
    ipv6,
    st.integers(0, 2**31 - 1),
    u32,
    u32,
    st.integers(0, 2**32 - 2),
    st.lists(ipv6, max_size=3),
    st.lists(domains, max_size=3),
    st.booleans(),
)
def test_v6_round_trip(name, address, starts, t1, t2, life, dns, search, released):
    text = v6_block(
        name,
        address,
        starts=starts,
        t1=t1,
        t2=t2,
        max_life=life,
        dns=dns,
        search=search,
        released=released,
    )
    (lease,) = parse_leases(text).leases
    infinite = 0xFFFFFFFF
    assert lease == Lease(
        interface=name,
        family=6,
        address=address,
        prefixlen=128,
        dns=tuple(dns),
        search=tuple(search),
        lease_time=life,
        renew=None if t1 == infinite else starts + t1,
        rebind=None if t2 == infinite else starts + t2,
        expire=starts + life,
        released=released,
    )


def assert_believable(lease: Lease) -> None:
    """Everything a lease holds passes the checks scripts' environment values get."""
    assert lease.family in (4, 6)
    assert check("LINK", lease.interface) is None
    assert len(lease.interface.encode()) <= 15
    for address in (lease.address, lease.server, lease.broadcast, *lease.routers, *lease.dns):
        if address is not None:
            assert ipaddress.ip_address(address).version == lease.family
            assert check("DHCP_ADDRESS", address) is None
            assert "%" not in address
    if lease.subnet_mask is not None:
        network = ipaddress.IPv4Network(f"0.0.0.0/{lease.subnet_mask}")
        assert network.prefixlen == lease.prefixlen
    for name in (*(lease.domain or "").split(), *lease.search):
        assert check("DHCP_DOMAIN", name) is None
    if lease.host_name is not None:
        assert check("DHCP_HOSTNAME", lease.host_name) is None
        assert all(c.isalnum() or c in "-." for c in lease.host_name)
    for value in (lease.renew, lease.rebind, lease.expire, lease.lease_time):
        assert value is None or value >= 0
    for net in lease.prefixes:
        assert ipaddress.IPv6Network(net).version == 6


@SETTINGS
@given(st.text(max_size=2000))
@example('lease {\n interface "eth0";\n fixed-address 1.2.3.4;\n expire never;\n}\n')
@example('lease6 { interface "x"; ia-na a { iaaddr ::1 { iaaddr ::2 { } } } }')
def test_text_never_raises(text):
    for lease in parse_leases(text).leases:
        assert_believable(lease)


@SETTINGS
@given(st.binary(max_size=2000))
def test_bytes_never_raise(data):
    for lease in parse_leases(data).leases:
        assert_believable(lease)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real lease file with characters replaced, inserted, deleted, or its tail cut."""
    text = draw(st.sampled_from(REAL))
    alphabet = st.sampled_from([*'{};,"\\#\n $`()/:.%0123456789abcxyz-', "\x00", "\xff"])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["replace", "insert", "delete", "cut"]))
        if op == "cut":
            text = text[:at]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        else:
            char = draw(alphabet)
            text = text[:at] + char + text[at + (op == "replace") :]
    return text


@SETTINGS
@given(mutated())
def test_mutated_real_files_never_raise_and_never_lie(text):
    result = parse_leases(text)
    for lease in result.leases:
        assert_believable(lease)


@SETTINGS
@given(v4_leases(), v4_leases())
def test_the_key_ignores_the_timers(a, b):
    b = Lease(**{**{f: getattr(a, f) for f in a.__slots__}, "expire": b.expire, "renew": b.renew})
    assert lease_key(a) == lease_key(b)


linux_names = st.text(
    alphabet=st.characters(blacklist_characters="/: \t\n\r\x0b\x0c\x00", max_codepoint=0x7E),
    min_size=1,
    max_size=15,
)


@SETTINGS
@given(v4_leases(), linux_names)
@example(None, 'x";z"')
@example(None, 'x";#')
@example(None, 'x";}lease{')
@example(None, "et\\h0")
def test_an_interface_name_reads_back_as_itself_or_not_at_all(lease, name):
    """dhclient writes the name unescaped; whatever Linux allows, no other name comes back."""
    lease = lease or Lease("eth0", 4, "10.0.0.1", expire=1)
    for leased in parse_leases(v4_block(lease, interface=name)).leases:
        assert leased.interface == name
