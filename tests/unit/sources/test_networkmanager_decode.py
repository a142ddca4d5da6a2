"""The NetworkManager decoder on what the real NetworkManager 1.42 sent (recorded), and its enums.

``tests/unit/data/networkmanager`` holds what NetworkManager sent on its bus in a lab run (see
``record.py`` there): activation via DHCP, ``nmcli connection down`` and ``up``, SIGKILL and a
restart, carrier lost and back.
"""

from dbus_fast import Variant
from nm_recording import phases, replies, signals

from netevd.bus.values import Ignored, Malformation, Malformed
from netevd.sources.networkmanager.decode import (
    ConnectionProps,
    DeviceProps,
    IpConfigProps,
    ManagerProps,
    decode_device_list,
    decode_get_all,
)
from netevd.sources.networkmanager.enums import DEVICE_STATE_REASONS
from netevd.sources.networkmanager.signals import (
    ConnectionChanged,
    DeviceAdded,
    DeviceChanged,
    DeviceStateChanged,
    IpConfigChanged,
    ManagerAdded,
    NmManagerChanged,
    ObjectAdded,
    ObjectRemoved,
    decode_signal,
)
from netevd.sources.networkmanager.values import (
    connectivity_name,
    device_reason_name,
    device_state_name,
    nm_state_name,
)

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


# -- enums ---------------------------------------------------------------------------------------


def test_every_device_state_has_its_name_and_others_are_rejected():
    names = [device_state_name(n) for n in range(0, 130, 10)]
    assert names == [
        "unknown",
        "unmanaged",
        "unavailable",
        "disconnected",
        "prepare",
        "config",
        "need-auth",
        "ip-config",
        "ip-check",
        "secondaries",
        "activated",
        "deactivating",
        "failed",
    ]
    for number in (1, 15, 99, 130, 2**32 - 1):
        assert device_state_name(number) == Malformed(
            Malformation.STATE, f"device state {number} is not one NetworkManager has"
        )
    for lie in (-1, 2**32, True, "100", 100.0, None):
        assert device_state_name(lie).reason is Malformation.TYPE


def test_the_reason_enum_is_networkmanager_1_42s():
    assert len(DEVICE_STATE_REASONS) == 68  # 0..67 in nm-dbus-interface.h of 1.42.4
    assert [device_reason_name(n) for n in (0, 1, 2, 36, 39, 40, 41, 60, 67)] == [
        "none",
        "unknown",
        "now-managed",
        "removed",
        "user-requested",
        "carrier",
        "connection-assumed",
        "new-activation",
        "peer-not-found",
    ]
    assert device_reason_name(68) == "reason-68"  # a later NetworkManager's: named by number
    assert device_reason_name(70000).reason is Malformation.VALUE
    assert device_reason_name("39").reason is Malformation.TYPE


def test_global_state_and_connectivity_names():
    assert [nm_state_name(n) for n in range(0, 80, 10)] == [
        "unknown",
        "asleep",
        "disconnected",
        "disconnecting",
        "connecting",
        "connected-local",
        "connected-site",
        "connected-global",
    ]
    assert [connectivity_name(n) for n in range(5)] == [
        "unknown",
        "none",
        "portal",
        "limited",
        "full",
    ]
    assert nm_state_name(35).reason is Malformation.STATE
    assert connectivity_name(5).reason is Malformation.STATE


# -- the recording ---------------------------------------------------------------------------------


def test_every_recorded_signal_decodes():
    decoded = [decode(m) for m in signals() if m["member"] != "NameOwnerChanged"]
    assert len(decoded) > 300
    assert not [d for d in decoded if isinstance(d, Malformed)]
    kinds = {type(d) for d in decoded}
    assert kinds >= {
        DeviceStateChanged,
        DeviceChanged,
        ConnectionChanged,
        IpConfigChanged,
        NmManagerChanged,
        DeviceAdded,
        ObjectAdded,
        ManagerAdded,
        ObjectRemoved,
        Ignored,
    }


def test_recorded_device_state_sequences():
    recorded = {name: device_states(messages) for name, messages in phases().items()}
    activation = [
        ("unavailable", "unmanaged", "now-managed"),
        ("disconnected", "unavailable", "none"),
        ("prepare", "disconnected", "none"),
        ("config", "prepare", "none"),
        ("ip-config", "config", "none"),
        ("ip-check", "ip-config", "none"),
        ("secondaries", "ip-check", "none"),
        ("activated", "secondaries", "none"),
    ]
    assert recorded["activation"] == activation
    assert recorded["down"] == [
        ("deactivating", "activated", "user-requested"),
        ("disconnected", "deactivating", "user-requested"),
    ]
    assert recorded["up"] == activation[2:]
    assert recorded["kill"] == []
    assert recorded["restart"] == [
        ("unavailable", "unmanaged", "connection-assumed"),
        ("disconnected", "unavailable", "connection-assumed"),
        *activation[2:],
    ]
    # carrier loss: no deactivating, straight to unavailable (after NM's 6 s grace)
    assert recorded["carrier-lost"] == [("unavailable", "activated", "carrier")]
    assert recorded["carrier-back"] == [("disconnected", "unavailable", "carrier"), *activation[2:]]


def test_the_active_connection_is_gone_before_disconnected():
    """NM clears Device.ActiveConnection, then signals 30: the id must come from earlier."""
    decoded = [decode(m) for m in phases()["down"]]
    cleared = decoded.index(DeviceChanged(ETH0, DeviceProps(active_connection="")))
    disconnected = next(
        i
        for i, d in enumerate(decoded)
        if isinstance(d, DeviceStateChanged) and d.change.new == "disconnected"
    )
    gateway_cleared = decoded.index(
        IpConfigChanged(NM + "/IP4Config/2", IpConfigProps(gateway="", addresses=(), routes=()))
    )
    assert cleared < disconnected < gateway_cleared


def test_new_objects_come_with_their_properties_before_use():
    decoded = [decode(m) for m in phases()["up"]]
    added = next(d for d in decoded if isinstance(d, ObjectAdded) and "Active" in d.path)
    assert added.props == ConnectionProps(
        "wired",
        UUID,
        connection=NM + "/Settings/1",  # the profile: CONNECTION_DBUS_PATH
        external=False,  # StateFlags 0x40 (lifetime bound to the profile), not 0x80
        vpn=False,
        devices=(ETH0,),
        ip4_config="",
        ip6_config="",
    )
    used = decoded.index(DeviceChanged(ETH0, DeviceProps(active_connection=added.path)))
    assert decoded.index(added) < used


def test_a_starting_networkmanager_announces_its_manager_object_first():
    decoded = [decode(m) for m in phases()["restart"]]
    (manager,) = [d for d in decoded if isinstance(d, ManagerAdded)]
    assert manager.props.devices == ()
    first_device = next(d for d in decoded if isinstance(d, DeviceAdded))
    assert decoded.index(manager) < decoded.index(first_device)


def test_recorded_replies():
    r = replies()
    assert decode_device_list(r["GetDevices"]["signature"], r["GetDevices"]["body"]) == [
        NM + "/Devices/1",
        ETH0,
    ]

    def get_all(name, interface):
        return decode_get_all(interface, r[name]["signature"], r[name]["body"])

    eth0 = get_all("GetAll.Device.eth0", DEVICE)
    assert eth0 == DeviceProps(
        interface="eth0",
        ip_interface="eth0",
        state="activated",
        reason="none",
        active_connection=eth0.active_connection,
        ip4_config=NM + "/IP4Config/2",
        ip6_config=NM + "/IP6Config/2",
        dhcp4_config=NM + "/DHCP4Config/1",
        dhcp6_config="",
    )
    assert eth0.active_connection.startswith(NM + "/ActiveConnection/")
    lo = get_all("GetAll.Device.lo", DEVICE)
    assert (lo.interface, lo.state, lo.active_connection) == ("lo", "unmanaged", "")
    connection = get_all(
        "GetAll.ActiveConnection", "org.freedesktop.NetworkManager.Connection.Active"
    )
    assert (connection.id, connection.uuid, connection.vpn) == ("wired", UUID, False)
    assert connection.connection == NM + "/Settings/1"
    assert (connection.ip4_config, connection.devices) == (NM + "/IP4Config/2", (ETH0,))
    ip4 = get_all("GetAll.IP4Config", "org.freedesktop.NetworkManager.IP4Config")
    assert ip4.gateway == "10.231.80.1"
    (address,) = ip4.addresses
    assert address.startswith("10.231.80.")
    assert address.endswith("/24")
    assert get_all("GetAll.IP6Config", "org.freedesktop.NetworkManager.IP6Config") == IpConfigProps(
        "", (), nameservers=(), domains=(), routes=()
    )
    manager = get_all("GetAll.Manager", "org.freedesktop.NetworkManager")
    assert manager == ManagerProps(
        "connected-global",
        "full",
        (NM + "/Devices/1", ETH0),
        active_connections=(NM + "/ActiveConnection/1",),  # where the source finds VPNs
    )
