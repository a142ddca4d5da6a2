"""netevd wait's condition (pure): levels, exact manager states, all/any, nothing selected."""

import pytest

from netevd.core.events import KernelSnapshot
from netevd.core.model import AF_INET, IFF_LOOPBACK, IFF_LOWER_UP, IFF_UP, Addr, Link, Route
from netevd.core.online import WAITABLE, Condition, LinkFacts, holds, kernel_facts
from netevd.core.state import State, apply_all, expand_snapshot

ND, NM = "systemd-networkd", "NetworkManager"


@pytest.mark.parametrize(
    ("kernel", "wanted", "expected"),
    [
        ("routable", "routable", True),
        ("routable", "degraded", True),
        ("routable", "carrier", True),
        ("degraded", "routable", False),
        ("carrier", "degraded", False),
        ("no-carrier", "carrier", False),
        ("off", "no-carrier", False),
        ("no-carrier", "off", True),
    ],
)
def test_operational_states_are_levels(kernel, wanted, expected):
    assert holds(LinkFacts("eth0", kernel), wanted) is expected


def test_networkds_own_operational_state_wins_over_the_kernels():
    facts = LinkFacts("eth0", "routable", {ND: {"OperationalState": "degraded"}})
    assert not holds(facts, "routable")
    assert holds(facts, "degraded")
    garbled = LinkFacts("eth0", "routable", {ND: {"OperationalState": "??"}})
    assert holds(garbled, "routable")


def test_administrative_and_device_states_must_match_exactly():
    networkd = LinkFacts("eth0", "routable", {ND: {"AdministrativeState": "configured"}})
    assert holds(networkd, "configured")
    assert not holds(networkd, "configuring")
    nm = LinkFacts("eth0", "routable", {NM: {"DeviceState": "activated"}})
    assert holds(nm, "activated")
    assert not holds(nm, "configured")
    assert not holds(LinkFacts("eth0", "routable"), "activated")


def test_all_any_and_nothing_selected():
    links = [LinkFacts("eth0", "routable"), LinkFacts("eth1", "degraded")]
    assert Condition("routable").verdict(links) == (False, "not routable: eth1 is degraded")
    assert Condition("routable", any=True).verdict(links) == (True, "")
    assert Condition("routable", ("eth0",)).verdict(links) == (True, "")
    assert Condition("routable", ("eth*",)).verdict(links)[0] is False
    assert Condition("routable", ("wlan*",)).verdict(links) == (
        False,
        "no interface matches wlan*",
    )
    assert Condition("routable").verdict([]) == (False, "no interface matches any interface")


def test_kernel_facts_leave_loopback_out():
    up = IFF_UP | IFF_LOWER_UP
    snap = KernelSnapshot(
        (Link(1, "lo", up | IFF_LOOPBACK), Link(2, "eth0", up)),
        (Addr(2, AF_INET, "10.0.0.1", 24),),
        (Route(AF_INET, 254, "10.0.0.0/24", oif=2),),
        (),
    )
    state = apply_all(State(), expand_snapshot(State(), snap))
    assert kernel_facts(state) == [LinkFacts("eth0", "routable", {})]


def test_every_waitable_state_is_a_script_directory_and_a_state_somebody_reports():
    assert "routable" in WAITABLE
    assert "activated" in WAITABLE
    assert "configured" in WAITABLE
    assert "routes" not in WAITABLE
    assert "manager" not in WAITABLE
