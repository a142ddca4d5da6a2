"""LeaseBook: lease files in, lease events out (pure: a dict of files and a time)."""

from dataclasses import replace
from pathlib import Path

import pytest

from netevd.core.dhcp.lease import parse_leases
from netevd.core.events import LeaseChanged, LeaseLost
from netevd.core.model import Lease
from netevd.sources.dhclient.book import FileLeases, LeaseBook, is_lease_file

DATA = Path(__file__).parent.parent / "data" / "dhclient"
NOW = 1_000_000
LEASE = Lease("eth0", 4, "10.0.0.5", 24, "255.255.255.0", ("10.0.0.1",), expire=NOW + 60)


def blocks(*leases: Lease, mtime: int = 1) -> FileLeases:
    return FileLeases(mtime, leases)


@pytest.mark.parametrize(
    "name",
    [
        "dhclient.leases",
        "dhclient6.leases",
        "dhclient-eth0.leases",
        "dhclient6-eth0.leases",
        "dhclient.eth0.leases",
        "dhclient6.enp0s3.leases",
        "dhclient-$(x).leases",  # matched: the name part is never used, the blocks are checked
    ],
)
def test_lease_file_names(name):
    assert is_lease_file(name)


@pytest.mark.parametrize(
    "name",
    [
        "dhclient.leases~",
        ".dhclient.leases.swp",
        "dhclient.leases.dpkg-old",
        "dhclient-.leases",
        "dhclient-a-very-long-interface-name.leases",
        "dhclient-eth0.lease",  # NetworkManager's, not a dhclient -lf default
        "dhcpcd-eth0.lease",
        "leases",
    ],
)
def test_not_lease_file_names(name):
    assert not is_lease_file(name)


def test_a_new_lease_then_a_renewal_then_a_change():
    book = LeaseBook()
    book.put("/d/dhclient.leases", blocks(LEASE))
    assert book.changes(NOW, replay=True) == [LeaseChanged("eth0", LEASE, None, True)]
    renewed = replace(LEASE, expire=NOW + 120, renew=NOW + 30)
    book.put("/d/dhclient.leases", blocks(LEASE, renewed, mtime=2))
    assert book.changes(NOW) == []
    assert book.next_expiry() == NOW + 120  # the renewal's timers are kept
    moved = replace(renewed, address="10.0.0.6")
    book.put("/d/dhclient.leases", blocks(LEASE, renewed, moved, mtime=3))
    assert book.changes(NOW) == [LeaseChanged("eth0", moved, renewed)]


def test_expiry_release_and_removal_reasons():
    book = LeaseBook()
    book.put("/d/a.leases", blocks(LEASE, replace(LEASE, interface="eth1")))
    book.put("/d/b.leases", blocks(replace(LEASE, interface="eth2", family=6, address="fd00::5")))
    assert len(book.changes(NOW)) == 3
    assert [(e.interface, e.reason, e.family) for e in book.changes(NOW + 60)] == [
        ("eth0", "expired", 4),
        ("eth1", "expired", 4),
        ("eth2", "expired", 6),
    ]
    book.put("/d/a.leases", blocks(replace(LEASE, expire=NOW + 600), mtime=5))
    assert [type(e) for e in book.changes(NOW + 60)] == [LeaseChanged]
    released = replace(LEASE, renew=NOW + 61, rebind=NOW + 61, expire=NOW + 61)
    book.put("/d/a.leases", blocks(replace(LEASE, expire=NOW + 600), released, mtime=6))
    assert book.changes(NOW + 61) == [
        LeaseLost("eth0", "released", 4, replace(LEASE, expire=NOW + 600))
    ]
    book.put("/d/a.leases", blocks(replace(LEASE, expire=NOW + 900), mtime=7))
    book.changes(NOW + 61)
    book.remove("/d/a.leases")
    assert book.changes(NOW + 61) == [
        LeaseLost("eth0", "file-removed", 4, replace(LEASE, expire=NOW + 900))
    ]


def test_a_lease_missing_from_a_rewritten_file_is_no_longer_listed():
    book = LeaseBook()
    book.put("/d/a.leases", blocks(LEASE))
    book.changes(NOW)
    book.put("/d/a.leases", blocks(mtime=2))
    assert book.changes(NOW) == [LeaseLost("eth0", "no-longer-listed", 4, LEASE)]
    assert book.next_expiry() is None


def test_the_most_recently_written_file_is_believed():
    stale = replace(LEASE, address="10.0.0.99", expire=NOW + 10_000)
    book = LeaseBook()
    book.put("/var/lib/dhcp/dhclient.leases", blocks(stale, mtime=1))
    book.put("/var/lib/dhcp/dhclient.eth0.leases", blocks(LEASE, mtime=2))
    assert book.changes(NOW) == [LeaseChanged("eth0", LEASE)]
    released = replace(LEASE, renew=NOW, rebind=NOW, expire=NOW)
    book.put("/var/lib/dhcp/dhclient.eth0.leases", blocks(LEASE, released, mtime=3))
    # the older file's unexpired block is history: the release stands
    assert book.changes(NOW) == [LeaseLost("eth0", "released", 4, LEASE)]


def test_the_real_release_recording():
    result = parse_leases((DATA / "released.leases").read_bytes())
    book = LeaseBook()
    book.put("/d/dhclient.leases", blocks(*result.leases[:-1]))
    (changed,) = book.changes(result.leases[-1].expire)
    assert changed.lease.address == "10.231.99.216"
    book.put("/d/dhclient.leases", blocks(*result.leases, mtime=2))
    (lost,) = book.changes(result.leases[-1].expire)
    assert lost == LeaseLost("eth0", "released", 4, result.leases[-2])


def test_families_are_separate():
    book = LeaseBook()
    v6 = replace(LEASE, family=6, address="fd00::5", prefixlen=128, subnet_mask=None)
    book.put("/d/dhclient.leases", blocks(LEASE))
    book.put("/d/dhclient6.leases", blocks(v6))
    assert len(book.changes(NOW)) == 2
    book.put("/d/dhclient6.leases", blocks(replace(v6, released=True), mtime=2))
    assert book.changes(NOW) == [LeaseLost("eth0", "released", 6, v6)]
    assert book.current() == {("eth0", 4): LEASE}
