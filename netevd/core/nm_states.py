"""NetworkManager's state names (pure data): the one list of them, on the core's side of the
boundary. The core matches these words (which directory a device state fires, ``manager.d``'s
STATE and CONNECTIVITY, a VPN's transition); the NetworkManager source maps NetworkManager's
numbers onto them in NetworkManager's order (netevd.sources.networkmanager.enums), so a
number outside the list is rejected there and a word never needs checking twice.

From ``src/libnm-core-public/nm-dbus-interface.h`` and ``nm-vpn-dbus-interface.h`` of
NetworkManager 1.42.4 (Debian 12): each ``NM_..._FOO_BAR`` constant becomes ``foo-bar``.
"""

from __future__ import annotations

# NMDeviceState, 0 to 120 in steps of 10
DEVICE_STATES = (
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
)
# NMState (the Manager's global State), 0 to 70 in steps of 10
GLOBAL_STATES = (
    "unknown",
    "asleep",
    "disconnected",
    "disconnecting",
    "connecting",
    "connected-local",
    "connected-site",
    "connected-global",
)
# NMConnectivityState, 0 to 4
CONNECTIVITY = ("unknown", "none", "portal", "limited", "full")
# the Manager's properties manager.d's environment carries (STATE and CONNECTIVITY)
NM_MANAGER_PROPERTIES = ("State", "Connectivity")
# NMVpnConnectionState, 0 to 7: a VPN connection's VpnState
VPN_STATES = (
    "unknown",
    "prepare",
    "need-auth",
    "connect",
    "ip-config-get",
    "activated",
    "failed",
    "disconnected",
)

# The properties a device event may carry, in the order they are listed: the tracker fills
# them in (netevd.sources.networkmanager), the reactions read them (netevd.core.react).
DEVICE_PROPERTIES = (
    "DeviceState",
    "DeviceStateOld",
    "Reason",
    "Interface",
    "IpInterface",
    "Name",
    "ConnectionId",
    "ConnectionUuid",
    "ConnectionPath",
    "ConnectionFilename",
    "ConnectionExternal",
    "Ip4Gateway",
    "Ip6Gateway",
    "Ip4Addresses",
    "Ip6Addresses",
    "Ip4Nameservers",
    "Ip6Nameservers",
    "Ip4Domains",
    "Ip6Domains",
    "Ip4Routes",
    "Ip6Routes",
    "Dhcp4Options",
    "Dhcp6Options",
)
