"""The NetworkManager source's device tracker, driven by the real NetworkManager's recording.

``replay`` routes decoded signals the way NetworkManagerSource does when NetworkManager has
announced every object (InterfacesAdded) before using it, which the real one does: no round
trips, so the tracker alone decides what is emitted. The source's own routing, round trips and
ordering are proven against the real NetworkManager in tests/integration.
"""

import json

from nm_recording import phases

from netevd.core.events import ManagerChanged, ManagerLinkChanged, ManagerLinkRemoved
from netevd.sources.networkmanager.decode import (
    ConnectionProps,
    DeviceProps,
    IpConfigProps,
    ManagerProps,
    StateChange,
)
from netevd.sources.networkmanager.signals import (
    ConnectionChanged,
    DeviceAdded,
    DeviceChanged,
    DeviceRemoved,
    DeviceStateChanged,
    DhcpConfigChanged,
    IpConfigChanged,
    ManagerAdded,
    ObjectAdded,
    ObjectRemoved,
    decode_signal,
)
from netevd.sources.networkmanager.signals import (
    NmManagerChanged as ManagerSignal,
)
from netevd.sources.networkmanager.tracker import Tracker

NM = "/org/freedesktop/NetworkManager"
ETH0 = NM + "/Devices/2"
UUID = "5c0ffee0-0000-4000-8000-00000000beef"
INDEXES = {"lo": 1, "eth0": 10}
ROUTES = "10.231.80.0/24 - 100;0.0.0.0/0 10.231.80.1 100"
FILENAME = "/tmp/netevd-nm-02jyydck/conns/wired.nmconnection"  # where the recording's NM kept it


def replay(tracker, messages):
    events = []
    for m in messages:
        decoded = decode_signal(m["path"], m["interface"], m["member"], m["signature"], m["body"])
        match decoded:
            case DeviceStateChanged(path, change):
                events += tracker.state_changed(path, change)
            case DeviceChanged(path, props):
                tracker.learn(path, props)
                events += tracker.device_changed(path)
            case ObjectAdded(path, DeviceProps() as props):
                tracker.learn(path, props)
            case (
                ObjectAdded(path, props)
                | ConnectionChanged(path, props)
                | IpConfigChanged(path, props)
                | DhcpConfigChanged(path, props)
            ):
                tracker.learn(path, props)
                for device in tracker.users(path):
                    events += tracker.refresh(device)
            case DeviceAdded(path):
                events += tracker.announce(path)
            case DeviceRemoved(path):
                events += tracker.removed(path)
            case ObjectRemoved(path):
                tracker.forget(path)
            case ManagerSignal(props):
                events += tracker.manager_changed(props, state=m["member"] == "StateChanged")
            case ManagerAdded(props):
                tracker.reset()  # a new NetworkManager: the source starts a new session
                events.append(("snapshot", tracker.manager_snapshot(props)))
    return events


def eth0(events):
    return [
        dict(e.properties) for e in events if isinstance(e, ManagerLinkChanged) and e.index == 10
    ]


def states(events):
    return [
        (p["DeviceState"], p.get("DeviceStateOld"), p["Reason"])
        for p in eth0(events)
        if "DeviceState" in p
    ]


def recorded():
    tracker = Tracker(INDEXES.get)
    return tracker, {name: replay(tracker, messages) for name, messages in phases().items()}


ACTIVATION = [
    ("prepare", "disconnected", "none"),
    ("config", "prepare", "none"),
    ("ip-config", "config", "none"),
    ("ip-check", "ip-config", "none"),
    ("secondaries", "ip-check", "none"),
    ("activated", "secondaries", "none"),
]


def test_activation_via_dhcp():
    _, events = recorded()
    first = events["activation"]
    assert first[0] == ("snapshot", (("State", "disconnected"), ("Connectivity", "unknown")))
    assert states(first) == [
        ("unmanaged", None, "none"),  # DeviceAdded: the whole picture, once
        ("unavailable", "unmanaged", "now-managed"),
        ("disconnected", "unavailable", "none"),
        *ACTIVATION,
    ]
    activated = eth0(first)[-1]
    lease = json.loads(activated.pop("Dhcp4Options"))  # DHCP4Config's Options, the lease
    assert (lease["ip_address"], lease["routers"], lease["dhcp_lease_time"]) == (
        "10.231.80.147",
        "10.231.80.1",
        "3600",
    )
    assert activated == {
        "DeviceState": "activated",
        "DeviceStateOld": "secondaries",
        "Reason": "none",
        "Interface": "eth0",
        "Name": "eth0",
        "IpInterface": "eth0",
        "ConnectionId": "wired",
        "ConnectionUuid": UUID,
        "ConnectionPath": NM + "/Settings/1",  # the active connection's Connection
        "ConnectionFilename": FILENAME,  # Settings/1's Filename (InterfacesAdded)
        "ConnectionExternal": "0",  # its StateFlags have no 0x80
        "Ip4Gateway": "10.231.80.1",  # dnsmasq's router option, through IP4Config
        "Ip6Gateway": "",
        "Ip4Addresses": "10.231.80.147/24",  # the lease, through IP4Config's AddressData
        "Ip6Addresses": "",
        "Ip4Nameservers": "",  # dnsmasq gave no DNS server here
        "Ip6Nameservers": "",
        "Ip4Domains": "",
        "Ip6Domains": "",
        "Ip4Routes": ROUTES,  # IP4Config's RouteData: the prefix route and the default
        "Ip6Routes": "",
        "Dhcp6Options": "",
    }
    lo = [e for e in first if isinstance(e, ManagerLinkChanged) and e.index == 1]
    assert [dict(e.properties)["DeviceState"] for e in lo] == ["unmanaged"]
    manager = [e.properties for e in first if isinstance(e, ManagerChanged)]
    assert manager == [
        (("Connectivity", "none"),),
        (("State", "connecting"),),
        (("State", "connected-site"),),
        (("State", "connected-global"),),
        (("Connectivity", "full"),),
    ]


def test_changes_between_states_carry_only_what_changed():
    _, events = recorded()
    between = [p for p in eth0(events["activation"]) if "DeviceState" not in p]
    lease = json.loads(between[2].pop("Dhcp4Options"))
    assert lease["ip_address"] == "10.231.80.147"
    assert between == [
        {"IpInterface": ""},  # NM clears it when the device becomes managed
        {  # before prepare
            "ConnectionId": "wired",
            "ConnectionUuid": UUID,
            "ConnectionPath": NM + "/Settings/1",
            "ConnectionFilename": FILENAME,
            "ConnectionExternal": "0",
        },
        {},  # the lease's options (DHCP4Config), in ip-config
        {"Ip4Gateway": "10.231.80.1", "Ip4Addresses": "10.231.80.147/24", "Ip4Routes": ROUTES},
        {"IpInterface": "eth0"},
    ]


def test_connection_down_then_disconnected_without_the_connection():
    _, events = recorded()
    down = eth0(events["down"])
    deactivating, lease_gone, disconnected, *rest = down
    assert lease_gone == {"Dhcp4Options": ""}  # Dhcp4Config "/" before 30
    assert deactivating["DeviceState"] == "deactivating"
    assert deactivating["DeviceStateOld"] == "activated"
    assert deactivating["Reason"] == "user-requested"
    assert deactivating["ConnectionId"] == "wired"
    assert (disconnected["DeviceState"], disconnected["DeviceStateOld"]) == (
        "disconnected",
        "deactivating",
    )
    assert disconnected["Reason"] == "user-requested"
    # NetworkManager dropped the active connection before signalling 30: the engine keeps the
    # id it had; the gateway is still the old one until IP4Config is cleared after the signal
    assert "ConnectionId" not in disconnected
    assert "ConnectionUuid" not in disconnected
    assert disconnected["Ip4Gateway"] == "10.231.80.1"
    assert rest == [{"IpInterface": ""}, {"Ip4Gateway": "", "Ip4Addresses": "", "Ip4Routes": ""}]


def test_connection_up_brings_activated_back():
    _, events = recorded()
    assert states(events["up"]) == ACTIVATION
    assert eth0(events["up"])[-1]["ConnectionUuid"] == UUID


def test_restart_after_sigkill_shows_every_state_from_unmanaged():
    _, events = recorded()
    assert events["kill"] == []
    restart = events["restart"]
    assert restart[0] == ("snapshot", (("State", "disconnected"), ("Connectivity", "unknown")))
    assert states(restart) == [
        ("unmanaged", None, "none"),
        ("unavailable", "unmanaged", "connection-assumed"),
        ("disconnected", "unavailable", "connection-assumed"),
        *ACTIVATION,
    ]
    # the kernel kept the address, so the IP configuration arrives with its gateway
    assert eth0(restart)[0]["Ip4Gateway"] == "10.231.80.1"


def test_carrier_lost_and_back():
    _, events = recorded()
    (lease_gone, lost, *rest) = eth0(events["carrier-lost"])
    assert lease_gone == {"Dhcp4Options": ""}
    assert (lost["DeviceState"], lost["DeviceStateOld"], lost["Reason"]) == (
        "unavailable",
        "activated",
        "carrier",
    )
    assert "ConnectionId" not in lost
    assert rest == [{"IpInterface": ""}, {"Ip4Gateway": "", "Ip4Addresses": "", "Ip4Routes": ""}]
    back = states(events["carrier-back"])
    assert back == [("disconnected", "unavailable", "carrier"), *ACTIVATION]


# -- the tracker's own rules -----------------------------------------------------------------------


def known_device(tracker, path=ETH0, name="eth0", **props):
    tracker.learn(
        path, DeviceProps(interface=name, ip_interface=name, state="disconnected", **props)
    )


def test_snapshot_entry_and_removal():
    tracker = Tracker(INDEXES.get)
    known_device(tracker, reason="none", active_connection="", ip4_config="", ip6_config="")
    entry = tracker.snapshot_entry(ETH0)
    assert entry == (
        10,
        (
            ("DeviceState", "disconnected"),
            ("Reason", "none"),
            ("Interface", "eth0"),
            ("IpInterface", "eth0"),
            ("Name", "eth0"),
            ("Ip4Gateway", ""),
            ("Ip6Gateway", ""),
            ("Ip4Addresses", ""),
            ("Ip6Addresses", ""),
            *((f"Ip{n}{key}", "") for key in ("Nameservers", "Domains", "Routes") for n in "46"),
        ),
        "",
    )
    assert tracker.announce(ETH0) == []  # the snapshot told the engine already
    assert tracker.removed(ETH0) == [ManagerLinkRemoved("NetworkManager", 10)]
    assert tracker.removed(ETH0) == []


def test_a_device_without_a_link_is_skipped_until_it_has_one():
    found = {}
    tracker = Tracker(found.get)
    known_device(tracker, name="ttyUSB0")
    assert tracker.snapshot_entry(ETH0) is None
    assert tracker.state_changed(ETH0, StateChange("prepare", "disconnected", "none")) == []
    tracker.learn(ETH0, DeviceProps(ip_interface="wwan0"))
    found["wwan0"] = 7  # the modem's IP interface appeared
    (event,) = tracker.state_changed(ETH0, StateChange("config", "prepare", "none"))
    assert event.index == 7
    assert dict(event.properties)["Interface"] == "ttyUSB0"


def test_a_rename_onto_another_link_removes_the_old_one():
    tracker = Tracker({"eth0": 10, "eth9": 12}.get)
    known_device(tracker)
    tracker.announce(ETH0)
    tracker.learn(ETH0, DeviceProps(interface="eth9"))
    events = tracker.device_changed(ETH0)
    assert events[0] == ManagerLinkRemoved("NetworkManager", 10)
    assert events[1].index == 12
    assert dict(events[1].properties)["Name"] == "eth9"


def test_objects_referred_to_but_not_described_are_missing():
    tracker = Tracker(INDEXES.get)
    assert tracker.unknown(ETH0)
    known_device(
        tracker, active_connection=NM + "/ActiveConnection/5", ip4_config=NM + "/IP4Config/3"
    )
    assert tracker.missing(ETH0) == [
        (NM + "/ActiveConnection/5", "org.freedesktop.NetworkManager.Connection.Active"),
        (NM + "/IP4Config/3", "org.freedesktop.NetworkManager.IP4Config"),
    ]
    tracker.learn(NM + "/ActiveConnection/5", ConnectionProps("office", UUID))
    tracker.mark_absent(NM + "/IP4Config/3")  # gone when fetched: not asked for again
    assert tracker.missing(ETH0) == []
    assert tracker.users(NM + "/ActiveConnection/5") == [ETH0]
    tracker.learn(NM + "/IP4Config/3", IpConfigProps(gateway="192.0.2.1"))
    (event,) = tracker.state_changed(ETH0, StateChange("activated", "secondaries", "none"))
    props = dict(event.properties)
    assert (props["ConnectionId"], props["Ip4Gateway"]) == ("office", "192.0.2.1")


def test_manager_connectivity_only_when_it_changes_state_always():
    tracker = Tracker(INDEXES.get)
    assert tracker.manager_snapshot(ManagerProps("connected-global", "full")) == (
        ("State", "connected-global"),
        ("Connectivity", "full"),
    )
    assert tracker.manager_changed(ManagerProps(connectivity="full"), state=False) == []
    assert tracker.manager_changed(ManagerProps(state="asleep"), state=False) == []  # from PC
    assert tracker.manager_changed(ManagerProps(state="asleep"), state=True) == [
        ManagerChanged("NetworkManager", (("State", "asleep"),))
    ]
