"""The fake resolve1 and hostname1 services against the real ones' introspection, recorded
from systemd 252 (systemd-resolved 252.39 from Debian's package, extracted, and the installed
systemd-hostnamed, each run on a private bus by lab.daemons.systemd_services). The live comparison
is
in tests/integration/test_resolved_hostnamed.py; this one needs no bus."""

from pathlib import Path

import pytest
from dbus_fast.introspection import Interface, Node

from lab.fakes import FakeHostname1, FakeResolve1

DATA = Path(__file__).parent.parent / "data" / "dbus"


def recorded(name: str, interface: str) -> Interface:
    node = Node.parse((DATA / name).read_text())
    return next(i for i in node.interfaces if i.name == interface)


def shape(interface: Interface):
    methods = {
        m.name: ([a.signature for a in m.in_args], [a.signature for a in m.out_args])
        for m in interface.methods
    }
    props = {p.name: (p.signature, p.access.value) for p in interface.properties}
    signals = {s.name: [a.signature for a in s.args] for s in interface.signals}
    return methods, props, signals


@pytest.mark.parametrize(
    ("fake", "file", "name"),
    [
        (FakeResolve1("unix:path=/nonexistent").manager, "resolve1-manager-252.xml",
         "org.freedesktop.resolve1.Manager"),
        (FakeHostname1("unix:path=/nonexistent").interface, "hostname1-252.xml",
         "org.freedesktop.hostname1"),
    ],
)  # fmt: skip
def test_every_member_of_the_fake_is_the_real_ones(fake, file, name):
    real = shape(recorded(file, name))
    ours = shape(fake.introspect())
    assert ours[0], f"the fake {name} has no methods"
    for kind, mine, theirs in zip(("method", "property", "signal"), ours, real, strict=True):
        for member, signature in mine.items():
            assert member in theirs, f"{name}.{member}: no such {kind} in systemd 252"
            assert signature == theirs[member], f"{name}.{member} differs from systemd 252"


def test_the_recordings_hold_what_netevd_calls():
    methods, _, _ = shape(recorded("resolve1-manager-252.xml", "org.freedesktop.resolve1.Manager"))
    assert methods["SetLinkDNS"] == (["i", "a(iay)"], [])
    assert methods["SetLinkDomains"] == (["i", "a(sb)"], [])
    assert methods["RevertLink"] == (["i"], [])
    methods, props, _ = shape(recorded("hostname1-252.xml", "org.freedesktop.hostname1"))
    assert methods["SetHostname"] == (["s", "b"], [])
    assert props["Hostname"] == ("s", "read")
