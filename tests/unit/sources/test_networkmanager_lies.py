"""The NetworkManager decoder on lies: wrong signatures, types, paths and values, and garbage.

Each lie is what a peer on the bus could send; the decoder must answer it with a Malformed of
the right reason (a fixed set: they are counted by reason) and never raise, whatever it gets.
"""

import pytest
from dbus_fast import Variant
from hypothesis import given
from hypothesis import strategies as st

from netevd.bus.values import Ignored, Malformation, Malformed
from netevd.sources.networkmanager.decode import (
    ConnectionProps,
    DeviceProps,
    IpConfigProps,
    ManagerProps,
    StateChange,
    decode_device_list,
    decode_get_all,
    decode_props,
)
from netevd.sources.networkmanager.signals import (
    ConnectionChanged,
    DeviceAdded,
    DeviceChanged,
    DeviceRemoved,
    DeviceStateChanged,
    IpConfigChanged,
    NmManagerChanged,
    decode_signal,
    decode_state_changed,
)

NM = "/org/freedesktop/NetworkManager"
ETH0 = NM + "/Devices/2"
DEVICE = "org.freedesktop.NetworkManager.Device"
PROPS = "org.freedesktop.DBus.Properties"
UUID = "5c0ffee0-0000-4000-8000-00000000beef"

NM = "/org/freedesktop/NetworkManager"
ETH0 = NM + "/Devices/2"
DEVICE = "org.freedesktop.NetworkManager.Device"
PROPS = "org.freedesktop.DBus.Properties"
UUID = "5c0ffee0-0000-4000-8000-00000000beef"


def decode(m):
    return decode_signal(m["path"], m["interface"], m["member"], m["signature"], m["body"])


def device_states(messages):
    return [
        (d.change.new, d.change.old, d.change.reason)
        for d in map(decode, messages)
        if isinstance(d, DeviceStateChanged)
    ]


def changed(path, interface, props, signature="sa{sv}as"):
    return decode_signal(path, PROPS, "PropertiesChanged", signature, [interface, props, []])


def s(value):
    return Variant("s", value)


def u(value):
    return Variant("u", value)


# -- lies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "body", "reason"),
    [
        ("uu", [100, 90], Malformation.SIGNATURE),
        ("uuu", [100, 90], Malformation.SIGNATURE),
        ("sss", ["activated", "secondaries", "none"], Malformation.SIGNATURE),
        ("uuu", ["100", 90, 0], Malformation.TYPE),
        ("uuu", [101, 90, 0], Malformation.STATE),
        ("uuu", [100, 7, 0], Malformation.STATE),
        ("uuu", [100, 90, 2**31], Malformation.VALUE),
    ],
)
def test_state_changed_lies(signature, body, reason):
    assert decode_state_changed(signature, body).reason is reason
    assert decode_signal(ETH0, DEVICE, "StateChanged", signature, body).reason is reason


def test_state_changed_keeps_the_signals_values():
    assert decode_state_changed("uuu", [110, 100, 39]) == StateChange(
        "deactivating", "activated", "user-requested"
    )


@pytest.mark.parametrize(
    "path",
    [
        NM + "/Devices/02",
        NM + "/Devices/0",
        NM + "/Devices/-1",
        NM + "/Devices/2/x",
        NM + "/Devices/99999999999",
        NM + "/ActiveConnection/2",
        NM,
    ],
)
def test_state_changed_on_a_path_nm_never_uses(path):
    assert decode_signal(path, DEVICE, "StateChanged", "uuu", [100, 90, 0]).reason is (
        Malformation.PATH
    )


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"State": s("activated")}, Malformation.TYPE),
        ({"State": u(105)}, Malformation.STATE),
        ({"StateReason": Variant("(uu)", [100, 70000])}, Malformation.VALUE),
        ({"StateReason": Variant("(uu)", [7, 0])}, Malformation.STATE),
        ({"Interface": s("x" * 16)}, Malformation.VALUE),
        ({"Interface": s("../../tmp")}, Malformation.VALUE),
        ({"Interface": s("eth 0")}, Malformation.VALUE),
        ({"Interface": s("..")}, Malformation.VALUE),
        ({"Interface": u(3)}, Malformation.TYPE),
        ({"IpInterface": s("a:b")}, Malformation.VALUE),
        ({"ActiveConnection": s(NM + "/ActiveConnection/1")}, Malformation.TYPE),
        ({"ActiveConnection": Variant("o", NM + "/Devices/1")}, Malformation.PATH),
        ({"Ip4Config": Variant("o", NM + "/IP6Config/1")}, Malformation.PATH),
        ({"Ip6Config": Variant("o", NM + "/IP6Config/01")}, Malformation.PATH),
    ],
)
def test_device_property_lies(props, reason):
    decoded = changed(ETH0, DEVICE, {"Interface": s("eth0"), **props})
    assert isinstance(decoded, Malformed)
    assert decoded.reason is reason


def test_device_properties_believed():
    decoded = changed(
        ETH0,
        DEVICE,
        {
            "Interface": s("we$ird;`n"),  # Linux allows these; the core decides what runs
            "IpInterface": s(""),
            "ActiveConnection": Variant("o", "/"),
            "Mtu": Variant("u", 1500),  # not followed, not checked
        },
    )
    assert decoded == DeviceChanged(
        ETH0, DeviceProps(interface="we$ird;`n", ip_interface="", active_connection="")
    )


@pytest.mark.parametrize(
    ("interface", "props", "reason"),
    [
        ("IP4Config", {"Gateway": s("fe80::1")}, Malformation.VALUE),
        ("IP6Config", {"Gateway": s("10.0.0.1")}, Malformation.VALUE),
        ("IP4Config", {"Gateway": s("10.0.0.1; rm -rf /")}, Malformation.VALUE),
        ("IP4Config", {"Gateway": Variant("as", ["10.0.0.1"])}, Malformation.TYPE),
        ("IP4Config", {"AddressData": Variant("as", [])}, Malformation.TYPE),
        (
            "IP4Config",
            {"AddressData": Variant("aa{sv}", [{"address": s("10.0.0.1"), "prefix": u(33)}])},
            Malformation.VALUE,
        ),
        (
            "IP4Config",
            {"AddressData": Variant("aa{sv}", [{"address": s("10.0.0.1")}])},
            Malformation.TYPE,
        ),
        (
            "IP4Config",
            {"AddressData": Variant("aa{sv}", [{"address": s("fd00::1"), "prefix": u(64)}])},
            Malformation.VALUE,
        ),
    ],
)
def test_ip_config_lies(interface, props, reason):
    path = f"{NM}/{interface}/3"
    decoded = changed(path, f"org.freedesktop.NetworkManager.{interface}", props)
    assert isinstance(decoded, Malformed)
    assert decoded.reason is reason


def test_ip_config_believed():
    addresses = Variant(
        "aa{sv}",
        [{"address": s("fd00::5"), "prefix": u(64), "lifetime": u(300)}],
    )
    decoded = changed(
        NM + "/IP6Config/3",
        "org.freedesktop.NetworkManager.IP6Config",
        {"Gateway": s("fe80::1"), "AddressData": addresses},
    )
    assert decoded == IpConfigChanged(
        NM + "/IP6Config/3", IpConfigProps("fe80::1", ("fd00::5/64",))
    )


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"Id": s("wired\nEVIL=1")}, Malformation.VALUE),
        ({"Id": s("x" * 257)}, Malformation.VALUE),
        ({"Uuid": s("not-a-uuid")}, Malformation.VALUE),
        ({"Uuid": Variant("ay", b"1234")}, Malformation.TYPE),
    ],
)
def test_active_connection_lies(props, reason):
    path = NM + "/ActiveConnection/4"
    decoded = changed(path, "org.freedesktop.NetworkManager.Connection.Active", props)
    assert decoded.reason is reason


def test_a_connection_id_may_be_any_printable_text():
    path = NM + "/ActiveConnection/4"
    props = {"Id": s("Café Wi-Fi $HOME; `x`"), "Uuid": s(UUID)}
    decoded = changed(path, "org.freedesktop.NetworkManager.Connection.Active", props)
    assert decoded == ConnectionChanged(path, ConnectionProps("Café Wi-Fi $HOME; `x`", UUID))


def test_properties_changed_lies():
    assert changed(ETH0, DEVICE, {"Interface": "eth0"}, "sa{ss}as").reason is Malformation.SIGNATURE
    assert changed(ETH0, DEVICE, [("Interface", s("eth0"))]).reason is Malformation.SIGNATURE
    bad_invalidated = decode_signal(ETH0, PROPS, "PropertiesChanged", "sa{sv}as", [DEVICE, {}, [1]])
    assert bad_invalidated.reason is Malformation.SIGNATURE
    # the manager's interface on a device path, a device's on the manager path
    assert changed(ETH0, "org.freedesktop.NetworkManager", {}).reason is Malformation.PATH
    assert changed(NM, DEVICE, {}).reason is Malformation.PATH
    assert isinstance(changed(ETH0, DEVICE + ".Wired", {"Carrier": Variant("b", False)}), Ignored)


def test_manager_signals():
    assert decode_signal(NM, "org.freedesktop.NetworkManager", "StateChanged", "u", [70]) == (
        NmManagerChanged(ManagerProps(state="connected-global"))
    )
    assert decode_signal(
        NM, "org.freedesktop.NetworkManager", "StateChanged", "u", [71]
    ).reason is (Malformation.STATE)
    for member, kind in (("DeviceAdded", DeviceAdded), ("DeviceRemoved", DeviceRemoved)):
        assert decode_signal(NM, "org.freedesktop.NetworkManager", member, "o", [ETH0]) == kind(
            ETH0
        )
        bad = decode_signal(NM, "org.freedesktop.NetworkManager", member, "o", [NM + "/Devices/x"])
        assert bad.reason is Malformation.PATH
        assert decode_signal(NM, "org.freedesktop.NetworkManager", member, "s", [ETH0]).reason is (
            Malformation.SIGNATURE
        )
    assert changed(NM, "org.freedesktop.NetworkManager", {"Connectivity": u(9)}).reason is (
        Malformation.STATE
    )
    assert decode_device_list("ao", [[ETH0, ETH0]]).reason is Malformation.PATH


def test_object_manager_lies():
    om = "org.freedesktop.DBus.ObjectManager"
    added = decode_signal(
        "/org/freedesktop", om, "InterfacesAdded", "oa{sa{sv}}", [ETH0, {DEVICE: {"State": u(3)}}]
    )
    assert added.reason is Malformation.STATE
    elsewhere = decode_signal(
        "/org/freedesktop",
        om,
        "InterfacesAdded",
        "oa{sa{sv}}",
        [NM + "/IP4Config/1", {DEVICE: {"State": u(30)}}],
    )
    assert elsewhere.reason is Malformation.PATH
    assert decode_signal(
        "/org/freedesktop", om, "InterfacesAdded", "oa{sv}", [ETH0, {}]
    ).reason is (Malformation.SIGNATURE)
    assert isinstance(decode_signal(ETH0, om, "InterfacesAdded", "oa{sa{sv}}", [ETH0, {}]), Ignored)


def test_get_all_must_answer_a_dict_of_the_asked_interface():
    assert decode_get_all(DEVICE, "s", ["x"]).reason is Malformation.SIGNATURE
    assert decode_get_all("org.example.Other", "a{sv}", [{}]).reason is Malformation.SIGNATURE
    assert decode_props(DEVICE, {"State": u(100)}) == DeviceProps(state="activated")


# -- garbage ---------------------------------------------------------------------------------------

_leaf = st.one_of(
    st.integers(min_value=-(2**33), max_value=2**33),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
    st.binary(max_size=8),
    st.floats(allow_nan=True),
)
_signatures = st.sampled_from(["s", "u", "o", "(uu)", "aa{sv}", "ao", "as", "b", "x"])


_values = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
        # a variant whose value need not match its signature: a decoder must survive it
        st.builds(lambda sig, value: Variant(sig, value, verify=False), _signatures, children),
    ),
    max_leaves=20,
)


_paths = st.one_of(
    st.sampled_from(
        [
            NM,
            ETH0,
            "/org/freedesktop",
            NM + "/IP4Config/2",
            NM + "/ActiveConnection/1",
            NM + "/DHCP4Config/1",
            NM + "/Settings",
            NM + "/Settings/1",
        ]
    ),
    st.text(max_size=40),
)
_interfaces = st.sampled_from(
    [
        PROPS,
        DEVICE,
        "org.freedesktop.NetworkManager",
        "org.freedesktop.DBus.ObjectManager",
        "org.freedesktop.NetworkManager.Connection.Active",
        "org.freedesktop.NetworkManager.IP4Config",
        "org.freedesktop.NetworkManager.IP6Config",
        "org.freedesktop.NetworkManager.DHCP4Config",
        "org.freedesktop.NetworkManager.DHCP6Config",
        "org.freedesktop.NetworkManager.Settings",
        "org.freedesktop.NetworkManager.Settings.Connection",
        "org.freedesktop.NetworkManager.VPN.Connection",
        "x",
    ]
)
_members = st.sampled_from(
    [
        "PropertiesChanged",
        "StateChanged",
        "DeviceAdded",
        "DeviceRemoved",
        "InterfacesAdded",
        "InterfacesRemoved",
        "VpnStateChanged",
        "Other",
    ]
)


@given(_paths, _interfaces, _members, st.text(max_size=12), st.lists(_values, max_size=4))
def test_garbage_signals_never_raise(path, interface, member, signature, body):
    decoded = decode_signal(path, interface, member, signature, body)
    assert decoded is not None


@given(_interfaces, _values)
def test_garbage_property_dicts_never_raise(interface, values):
    decoded = decode_props(interface, values)
    assert decoded is not None


@given(
    st.dictionaries(
        st.sampled_from(
            [
                *("State", "StateReason", "Interface", "Gateway", "AddressData", "Id"),
                *("Options", "NameserverData", "Nameservers", "Domains", "RouteData"),
                *("Hostname", "Dhcp4Config", "Dhcp6Config"),
                *("Vpn", "StateFlags", "Devices", "Connection", "VpnState", "Filename"),
                *("ActiveConnections", "Ip4Config"),
            ]
        ),
        _values,
        max_size=4,
    )
)
def test_garbage_under_followed_names_never_raises(values):
    for interface in (
        DEVICE,
        "org.freedesktop.NetworkManager.IP4Config",
        "org.freedesktop.NetworkManager.IP6Config",
        "org.freedesktop.NetworkManager.Connection.Active",
        "org.freedesktop.NetworkManager.DHCP4Config",
        "org.freedesktop.NetworkManager.Settings",
        "org.freedesktop.NetworkManager.Settings.Connection",
        "org.freedesktop.NetworkManager.VPN.Connection",
        "org.freedesktop.NetworkManager",
    ):
        assert decode_props(interface, values) is not None
