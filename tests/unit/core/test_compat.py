"""The compat translation's own rules, as plain function calls (the flows are in the scenarios
tests/scenarios/compat/compat-*.yaml and, against the real tools,
tests/integration/test_compat_*)."""

from __future__ import annotations

import json
from dataclasses import replace

from netevd.core.actions import RunScripts
from netevd.core.compat.networkd_dispatcher import dispatcher_env, networkd_dispatcher_runs
from netevd.core.compat.nm_dispatcher import device_action, dhcp_items, ip_items, nm_dispatcher_runs
from netevd.core.environment import validated
from netevd.core.model import AF_INET, IFF_LOOPBACK, IFF_LOWER_UP, IFF_UP, Addr, Link
from netevd.core.state import State
from netevd.core.trees import Tree

UP = IFF_UP | IFF_LOWER_UP


def state(*links: Link, backend: str = "none", **extra: object) -> State:
    return replace(State(links={link.index: link for link in links}, backend=backend), **extra)


def run(directory: str, backend: str, index: int = 2, **env: str) -> RunScripts:
    values = {"BACKEND": backend, "NETEVD_SEQ": "7", **env}
    return RunScripts(directory, index, f"eth{index}", tuple(values.items()), 7)


def test_only_the_backends_own_runs_of_its_states_translate():
    kernel = state(Link(2, "eth2", UP, mac="02:00:00:00:00:02"))
    assert len(networkd_dispatcher_runs(run("routable", "kernel"), kernel)) == 1
    assert networkd_dispatcher_runs(run("routes", "kernel"), kernel) == []  # not its state
    assert networkd_dispatcher_runs(run("routable", "dhclient"), kernel) == []  # a lease
    assert networkd_dispatcher_runs(run("manager", "kernel", index=0), kernel) == []
    networkd = replace(kernel, backend="systemd-networkd")
    assert networkd_dispatcher_runs(run("carrier", "kernel"), networkd) == []
    assert len(networkd_dispatcher_runs(run("carrier", "systemd-networkd"), networkd)) == 1
    compat = replace(run("routable", "kernel"), tree=Tree.NETWORKD_DISPATCHER.value)
    assert networkd_dispatcher_runs(compat, kernel) == []  # never a compat run's compat run


def test_the_link_type_is_networkds_word_else_the_kernels():
    lo = Link(1, "lo", IFF_LOOPBACK | UP)
    bridge = Link(3, "br0", UP, mac="02:00:00:00:00:03", kind="bridge")
    tun = Link(4, "tun0", UP)
    described = state(
        lo,
        bridge,
        tun,
        Link(5, "wl0", UP, mac="02:00:00:00:00:05"),
        describe={
            ("systemd-networkd", 5): json.dumps({"Type": "wlan"}),
            ("systemd-networkd", 4): "[",
        },
    )
    kinds = {
        index: json.loads(dispatcher_env(index, name, "carrier", described)["json"])["Type"]
        for index, name in ((1, "lo"), (3, "br0"), (4, "tun0"), (5, "wl0"))
    }
    assert kinds == {1: "loopback", 3: "bridge", 4: "none", 5: "wlan"}
    gone = json.loads(dispatcher_env(9, "eth9", "off", described)["json"])
    assert gone == {
        "AdministrativeState": "",
        "InterfaceName": "eth9",
        "OperationalState": "",
        "State": " ()",
        "Type": "",
    }


def test_addresses_come_in_networkctls_order_without_127_and_fe80():
    addrs = [
        Addr(2, AF_INET, "10.0.0.9", 24, scope=253),  # link scope: after the global ones
        Addr(2, AF_INET, "10.0.0.5", 24),
        Addr(2, 10, "fe80::1", 64, scope=253),
        Addr(2, 10, "fd00::1", 64),
        Addr(2, AF_INET, "127.0.0.2", 8, scope=254),
    ]
    picture = state(
        Link(2, "eth2", UP),
        addrs={2: {a.key: a for a in addrs}},
    )
    env = dispatcher_env(2, "eth2", "routable", picture)
    assert (env["ADDR"], env["IP_ADDRS"], env["IP6_ADDRS"]) == (
        "10.0.0.5",
        "10.0.0.5 10.0.0.9",
        "fd00::1",
    )
    assert json.loads(env["json"])["Address"] == [
        "10.0.0.5",
        "10.0.0.9",
        "127.0.0.2",
        "fd00::1",
        "fe80::1",
    ]


def test_empty_values_the_tool_always_sets_are_kept_bad_ones_dropped():
    env, dropped = validated(
        {"ESSID": "", "IP6_ADDRS": "", "IFACE": "x$(id)", "OTHER": ""}, ("ESSID", "IP6_ADDRS")
    )
    assert env == (("ESSID", ""), ("IP6_ADDRS", ""))
    assert dropped == (("IFACE", "not a safe interface name"),)


def test_which_transitions_are_up_and_down():
    assert device_action("activated", "secondaries") == "up"
    assert device_action("disconnected", "deactivating") == "down"
    assert device_action("unavailable", "activated") == "down"  # carrier lost
    assert device_action("failed", "activated") == "down"
    assert device_action("deactivating", "activated") is None  # pre-down's moment: not run
    assert device_action("disconnected", "unavailable") is None


def test_device_runs_need_the_networkmanager_backend_and_a_safe_interface():
    props = {"Interface": "eth2", "IpInterface": "x;y", "DeviceState": "activated"}
    nm = state(
        Link(2, "eth2", UP), backend="NetworkManager", managed={"NetworkManager": {2: props}}
    )
    assert nm_dispatcher_runs(run("activated", "kernel"), nm) == []
    assert nm_dispatcher_runs(run("activated", "NetworkManager"), nm) == []  # $1 would be x;y


def test_ip_items_follow_nm_dispatcher_utils():
    props = {
        "Ip6Addresses": "fd00::5/64 fe80::5/64",
        "Ip6Gateway": "fe80::1",
        "Ip6Routes": "fd00:1::/64 - 256;::/0 fe80::1 1024",
    }
    assert ip_items(props, "6") == {
        "IP6_ADDRESS_0": "fd00::5/64 fe80::1",
        "IP6_ADDRESS_1": "fe80::5/64 fe80::1",  # the one gateway after every address
        "IP6_NUM_ADDRESSES": "2",
        "IP6_GATEWAY": "fe80::1",
        "IP6_ROUTE_0": "fd00:1::/64 :: 256",
        "IP6_NUM_ROUTES": "1",
    }
    assert ip_items({}, "4") == {"IP4_GATEWAY": "0.0.0.0", "IP4_NUM_ROUTES": "0"}
    assert ip_items({"Ip4Routes": "garbage;10.0.0.0/8 10.0.0.1"}, "4")["IP4_NUM_ROUTES"] == "0"


def test_dhcp_items_take_only_strings_and_plain_names():
    text = json.dumps({"host_name": "a", "9lives": "x", "n-d": "x", "expiry": 5})
    assert dhcp_items({"Dhcp6Options": text}, "6") == {"DHCP6_HOST_NAME": "a"}
    assert dhcp_items({"Dhcp4Options": "not json"}, "4") == {}
    assert dhcp_items({"Dhcp4Options": "[1]"}, "4") == {}
