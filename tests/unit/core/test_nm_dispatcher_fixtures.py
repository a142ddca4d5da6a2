"""compat.nm_dispatcher held against NetworkManager's own dispatcher test fixtures.

NetworkManager 1.42.4's src/nm-dispatcher/tests/dispatcher-{up,down,external,vpn-up,vpn-down} (read
by test-dispatcher-envp.c) give nm_dispatcher_utils_construct_envp() a device, its connection and
its IP and DHCP configuration, and list the environment it must build. Here the same inputs, as the
NetworkManager source would report them, go through netevd's pure builders
(netevd.core.compat.nm_dispatcher.device_run and vpn_run); what comes out must be the fixture's
``[env]``, key for key and value for value, but for what netevd does not give:

- ``PATH`` (netevd's fixed one) and ``PROXY_PAC_URL``/``PROXY_PAC_SCRIPT`` (the device's proxy
  configuration is not followed: docs/migration.md);
- ``IP6_GATEWAY``, which netevd sets to 0.0.0.0 as the real daemon does (nm-dispatcher.c's
  dump_ip_to_props always sends both families; the lab's recording shows ``IP6_GATEWAY=0.0.0.0``)
  where the fixtures, having no ``[ip6]`` section, pass an empty IPv6 configuration.

- for dispatcher-external, ``IP4_ADDRESS_0``, ``IP4_NUM_ADDRESSES`` and ``IP4_GATEWAY``: its
  ``[ip4]`` section is an IP configuration NetworkManager 1.42 does not send for an external
  activation (it commits none of its own: nm_device_get_l3cd() is NULL, so fill_device_props
  sends empty IP dicts and nm-dispatcher gives ``IP4_NUM_ROUTES=0`` alone). The lab proves it
  beside the real daemon and the real nm-dispatcher (test_compat_nm_dispatcher.py, an external
  bridge).

The fixtures' ``CONNECTION_DBUS_PATH`` (``.../Connections/5``) and ``CONNECTION_FILENAME`` (the
fixture's own path) are what test-dispatcher-envp.c hands in; the real daemon's are a
``.../Settings/N`` path and the profile's file (tests/integration/test_compat_nm_dispatcher.py).
"""

from __future__ import annotations

import json

import pytest
from immutables import Map

from netevd.core.compat.nm_dispatcher import device_run, vpn_run
from netevd.core.directories import Directory
from netevd.core.events import NETWORKMANAGER, Context
from netevd.core.state import State

CTX = Context(seq=1, ts=0.0)
NOT_GIVEN = ("PATH", "PROXY_PAC_URL", "PROXY_PAC_SCRIPT")
WLAN_LEASE = {
    "netbios_name_servers": "0.0.0.0",
    "domain_name_servers": "68.87.77.134 68.87.72.134 192.168.1.1",
    "dhcp_lease_time": "86400",
    "network_number": "192.168.1.0",
    "domain_name": "hsd1.mn.comcast.net.",
    "ip_address": "192.168.1.119",
    "dhcp_message_type": "5",
    "dhcp_server_identifier": "192.168.1.1",
    "routers": "192.168.1.1",
    "broadcast_address": "192.168.1.255",
    "subnet_mask": "255.255.255.0",
}
WLAN_IP4 = {
    "Ip4Addresses": "192.168.1.119/24",
    "Ip4Gateway": "192.168.1.1",
    "Ip4Nameservers": "68.87.77.134 68.87.72.134 192.168.1.1",
    "Ip4Domains": "hsd1.mn.comcast.net.",
    "Ip4Routes": "",
}


def lease_env(expiry: str) -> dict[str, str]:
    env = {f"DHCP4_{k.upper()}": v for k, v in WLAN_LEASE.items()}
    return {**env, "DHCP4_EXPIRY": expiry}


def wlan_env(expiry: str) -> dict[str, str]:
    """The [ip4] and [dhcp4] variables of dispatcher-up, -vpn-up and -vpn-down."""
    return {
        "IP4_ADDRESS_0": "192.168.1.119/24 192.168.1.1",
        "IP4_NUM_ADDRESSES": "1",
        "IP4_NAMESERVERS": "68.87.77.134 68.87.72.134 192.168.1.1",
        "IP4_GATEWAY": "192.168.1.1",
        "IP4_DOMAINS": "hsd1.mn.comcast.net.",
        "IP4_NUM_ROUTES": "0",
        **lease_env(expiry),
    }


def connection(uuid: str, conn_id: str, fixture: str) -> dict[str, str]:
    return {
        "ConnectionUuid": uuid,
        "ConnectionId": conn_id,
        "ConnectionPath": "/org/freedesktop/NetworkManager/Connections/5",
        "ConnectionFilename": f"/src/nm-dispatcher/tests/{fixture}",
    }


def device(state: str, iface: str, ip_iface: str, **more: str) -> dict[str, str]:
    return {"DeviceState": state, "Interface": iface, "IpInterface": ip_iface, **more}


def expected(action: str, fixture: str, uuid: str, conn_id: str, **env: str) -> dict[str, str]:
    return {
        "NM_DISPATCHER_ACTION": action,
        "CONNECTION_UUID": uuid,
        "CONNECTION_DBUS_PATH": "/org/freedesktop/NetworkManager/Connections/5",
        "CONNECTION_ID": conn_id,
        "CONNECTION_FILENAME": f"/src/nm-dispatcher/tests/{fixture}",
        **env,
    }


UP_UUID, VPN_UUID, EXT_UUID = (
    "3fd2a33a-d81b-423f-ae99-e6baba742311",
    "355653c0-34d3-4777-ad25-f9a498b7ef8e",
    "92bbc2fb-7304-46be-8ebb-6093dbe19a6a",
)
DEVICE_CASES = [
    (
        "dispatcher-up",
        "up",
        {
            **device("activated", "wlan0", "wlan0", **WLAN_IP4),
            **connection(UP_UUID, "Random Connection", "dispatcher-up"),
            "Dhcp4Options": json.dumps({**WLAN_LEASE, "expiry": "1304300446"}),
        },
        ["wlan0", "up"],
        expected(
            "up", "dispatcher-up", UP_UUID, "Random Connection",
            DEVICE_IFACE="wlan0", DEVICE_IP_IFACE="wlan0", **wlan_env("1304300446"),
        ),
    ),
    (
        "dispatcher-down",
        "down",
        {
            **device("disconnected", "wlan0", "wlan0"),
            **connection(UP_UUID, "Random Connection", "dispatcher-down"),
        },
        ["wlan0", "down"],
        expected(
            "down", "dispatcher-down", UP_UUID, "Random Connection",
            DEVICE_IFACE="wlan0", DEVICE_IP_IFACE="wlan0",
        ),
    ),
    (
        "dispatcher-external",
        "up",
        {
            **device("activated", "virbr0", "virbr0", Ip4Addresses="192.168.122.1/24"),
            **connection(EXT_UUID, "virbr0", "dispatcher-external"),
            "ConnectionExternal": "1",
            "Ip4Gateway": "",
            "Ip4Domains": "",
        },
        ["virbr0", "up"],
        expected(
            "up", "dispatcher-external", EXT_UUID, "virbr0",
            CONNECTION_EXTERNAL="1", DEVICE_IFACE="virbr0", DEVICE_IP_IFACE="virbr0",
            IP4_NUM_ROUTES="0",  # the fixture's IP4_ADDRESS_0, _NUM_ADDRESSES, _GATEWAY: above
        ),
    ),
]  # fmt: skip


def ours(run_env: dict[str, str]) -> dict[str, str]:
    assert run_env.pop("IP6_GATEWAY", "0.0.0.0") == "0.0.0.0"
    return run_env


def test_an_external_activation_gives_no_ip_configuration_of_its_own():
    props = {**DEVICE_CASES[2][2], "Ip4Gateway": "192.168.122.254"}
    state = State(managed=Map({NETWORKMANAGER: Map({3: props})}))
    run = device_run(state, 3, "virbr0", "up", {}, CTX)
    assert run is not None
    assert [k for k in run.env_dict() if k.startswith(("IP", "DHCP"))] == ["IP4_NUM_ROUTES"]


@pytest.mark.parametrize(("fixture", "action", "props", "args", "env"), DEVICE_CASES)
def test_device_actions_build_the_fixtures_environment(fixture, action, props, args, env):
    state = State(managed=Map({NETWORKMANAGER: Map({3: props})}))
    run = device_run(state, 3, props["Interface"], action, {}, CTX)
    assert run is not None
    assert list(run.args) == args
    assert run.dropped == ()
    assert ours(run.env_dict()) == {k: v for k, v in env.items() if k not in NOT_GIVEN}


@pytest.mark.parametrize(
    ("fixture", "directory", "expiry"),
    [
        ("dispatcher-vpn-up", Directory.VPN_UP, "1304349405"),
        ("dispatcher-vpn-down", Directory.VPN_DOWN, "1304349405"),
    ],
)
def test_vpn_actions_build_the_fixtures_environment(fixture, directory, expiry):
    """A VPN without an IP interface of its own (the fixtures give no vpn-ip-iface): ``$1`` is
    the device's IP interface (``tun0`` in the fixtures' device), no VPN_ variables."""
    parent = {
        **device("activated", "wlan0", "tun0", **WLAN_IP4),
        "Dhcp4Options": json.dumps({**WLAN_LEASE, "expiry": expiry}),
    }
    vpn = {**connection(VPN_UUID, "Random Connection", fixture), "DeviceIndex": "3"}
    state = State(managed=Map({NETWORKMANAGER: Map({3: parent})}), vpns=Map({9: vpn}))
    run = vpn_run(state, vpn, directory, {}, CTX)
    assert run is not None
    action = directory.value
    assert list(run.args) == ["tun0", action]
    want = expected(
        action, fixture, VPN_UUID, "Random Connection",
        DEVICE_IFACE="wlan0", DEVICE_IP_IFACE="tun0", **wlan_env(expiry),
    )  # fmt: skip
    assert ours(run.env_dict()) == want
