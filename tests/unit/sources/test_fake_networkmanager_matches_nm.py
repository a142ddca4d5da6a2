"""The lab's fake NetworkManager against NetworkManager 1.42.4's own introspection.

tests/unit/data/dbus/networkmanager-1.42.4.xml holds the names and signatures of the interfaces
netevd follows, from NetworkManager's repository at tag 1.42.4 (Debian 12's version):
the VPN connection's (org.freedesktop.NetworkManager.VPN.Connection, which the real daemon shows
only while a VPN plugin runs, which cannot happen here) among them. Every member the fake has
must be NetworkManager's, with NetworkManager's signature; every member the source uses must be
in the fake. The live comparison with the running NetworkManager 1.42 of the lab (the Manager,
a device, an active connection, a profile, IP configurations) is
tests/integration/test_lab_networkmanager.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dbus_fast.introspection import Interface, Node
from dbus_fast.service import ServiceInterface

from lab.fakes.networkmanager import FakeDevice, FakeIpConfig, FakeManager
from lab.fakes.networkmanager_objects import (
    FakeActiveConnection,
    FakeSettingsConnection,
    FakeVpnConnection,
)

DATA = Path(__file__).parent.parent / "data" / "dbus" / "networkmanager-1.42.4.xml"
NM = "org.freedesktop.NetworkManager"
# What NetworkManagerSource uses of each interface: (methods, properties, signals).
USED = {
    NM: ({"GetDevices"}, {"State", "Connectivity", "Devices", "ActiveConnections"},
         {"StateChanged", "DeviceAdded", "DeviceRemoved"}),
    f"{NM}.Device": (set(), {"Interface", "IpInterface", "State", "StateReason",
                             "ActiveConnection", "Ip4Config", "Ip6Config"}, {"StateChanged"}),
    f"{NM}.Connection.Active": (set(), {"Id", "Uuid", "Connection", "Devices", "StateFlags",
                                        "Vpn", "Ip4Config", "Ip6Config"}, set()),
    f"{NM}.VPN.Connection": (set(), {"VpnState"}, {"VpnStateChanged"}),
    f"{NM}.Settings.Connection": (set(), {"Filename"}, set()),
    f"{NM}.IP4Config": (set(), {"Gateway", "AddressData"}, set()),
}  # fmt: skip
FAKES: list[tuple[ServiceInterface, str]] = [
    (FakeManager(), NM),
    (FakeDevice("eth0", 100), f"{NM}.Device"),
    (FakeActiveConnection("vpn", "0ff1ce00-0000-4000-8000-000000000001", vpn=True),
     f"{NM}.Connection.Active"),
    (FakeVpnConnection(), f"{NM}.VPN.Connection"),
    (FakeSettingsConnection("/etc/NetworkManager/system-connections/vpn.nmconnection"),
     f"{NM}.Settings.Connection"),
    (FakeIpConfig(f"{NM}.IP4Config", "", ()), f"{NM}.IP4Config"),
    (FakeIpConfig(f"{NM}.IP6Config", "", ()), f"{NM}.IP6Config"),
]  # fmt: skip


def recorded(name: str) -> Interface:
    return next(i for i in Node.parse(DATA.read_text()).interfaces if i.name == name)


def shape(interface: Interface):
    methods = {
        m.name: ([a.signature for a in m.in_args], [a.signature for a in m.out_args])
        for m in interface.methods
    }
    props = {p.name: (p.signature, p.access.value) for p in interface.properties}
    signals = {s.name: [a.signature for a in s.args] for s in interface.signals}
    return methods, props, signals


@pytest.mark.parametrize(("fake", "name"), FAKES, ids=[name for _, name in FAKES])
def test_every_member_of_the_fake_is_networkmanagers(fake, name):
    real, ours = shape(recorded(name)), shape(fake.introspect())
    for kind, mine, theirs in zip(("method", "property", "signal"), ours, real, strict=True):
        for member, signature in mine.items():
            assert member in theirs, f"{name}.{member}: no such {kind} in NetworkManager 1.42.4"
            assert signature == theirs[member], f"{name}.{member} differs from NetworkManager's"
    wanted = USED.get(name, (set(), set(), set()))
    for kind, mine, used in zip(("method", "property", "signal"), ours, wanted, strict=True):
        assert used <= set(mine), f"the fake lacks {kind}s {used - set(mine)} of {name}"


def test_the_recording_holds_what_the_source_reads_of_a_vpn():
    _, props, signals = shape(recorded(f"{NM}.VPN.Connection"))
    assert props["VpnState"] == ("u", "read")
    assert signals["VpnStateChanged"] == ["u", "u"]
    _, props, _ = shape(recorded(f"{NM}.Connection.Active"))
    assert {k: props[k][0] for k in ("Vpn", "Devices", "Connection", "StateFlags")} == {
        "Vpn": "b",
        "Devices": "ao",
        "Connection": "o",
        "StateFlags": "u",
    }
    _, props, _ = shape(recorded(f"{NM}.Settings.Connection"))
    assert props["Filename"] == ("s", "read")
