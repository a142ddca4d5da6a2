"""``netevd test --tree``: the choice of state per tree, and the daemon's picture taken in."""

import pytest

from netevd.cli.test_command import build_run, check_choice, with_daemon
from netevd.core.config import Config
from netevd.core.events import KernelSnapshot
from netevd.core.state import State, apply_all, expand_snapshot
from netevd.core.views import view
from netevd.errors import RuntimeFailure, UsageError
from tests.unit.core.core_helpers import addr, link


def kernel() -> State:
    snapshot = KernelSnapshot(links=(link(),), addrs=(addr("10.0.0.5"),), routes=(), rules=())
    return apply_all(State(), expand_snapshot(State(), snapshot))


@pytest.mark.parametrize(
    ("tree", "state", "message"),
    [
        ("netevd", "up", "--state 'up' is not a script directory; choose one of carrier, "),
        (
            "networkd-dispatcher",
            "activated",
            "--state 'activated' is not one of networkd-dispatcher's states; choose one of "
            "carrier, configured, configuring, degraded, ",
        ),
        (
            "nm-dispatcher",
            "routable",
            "--state 'routable' is not one of NetworkManager-dispatcher's actions; choose one "
            "of up, down, dhcp4-change, dhcp6-change, connectivity-change, hostname",
        ),
        ("ifupdown", "up", "--tree 'ifupdown' is not a script tree; choose one of netevd, "),
    ],
)
def test_each_tree_names_its_own_states(tree, state, message):
    with pytest.raises(UsageError) as caught:
        check_choice(tree, state)
    assert str(caught.value).startswith(message)


def test_the_daemons_values_are_taken_and_what_is_not_a_string_is_left_out():
    status = {"backend": "NetworkManager", "managers": {"NetworkManager": {"State": "x", "n": 1}}}
    documents = [
        {"ifindex": 3, "backends": {"NetworkManager": {"DeviceState": "activated", "Bad": [1]}}},
        {"ifindex": 99, "backends": {"NetworkManager": {"DeviceState": "activated"}}},  # gone
        "not a document",
    ]
    state = with_daemon(kernel(), status, documents)
    assert state.backend == "NetworkManager"
    assert dict(state.manager["NetworkManager"]) == {"State": "x"}
    assert dict(state.managed["NetworkManager"]) == {3: {"DeviceState": "activated"}}
    assert with_daemon(kernel(), ["not", "an", "object"], None) == kernel()


def test_a_kernel_directory_carries_the_kernel_as_backend_with_a_manager_too():
    state = with_daemon(kernel(), {"backend": "systemd-networkd"}, None)
    current = view(state, 3)
    assert current is not None
    carrier = build_run("netevd", current, "carrier", None, state, Config())
    routable = build_run("netevd", current, "routable", None, state, Config())
    assert carrier.env_dict()["BACKEND"] == "kernel"
    assert routable.env_dict()["BACKEND"] == "systemd-networkd"


def test_a_manager_action_without_networkmanager_says_what_is_missing():
    current = view(kernel(), 3)
    assert current is not None
    with pytest.raises(RuntimeFailure, match=r"^connectivity-change needs NetworkManager's values"):
        build_run("nm-dispatcher", current, "connectivity-change", None, kernel(), Config())
