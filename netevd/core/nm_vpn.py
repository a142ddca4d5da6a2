"""NetworkManager's VPN connections as an observer sees them (pure): which transition is
``vpn-up`` or ``vpn-down``, which interface a run is about, which device carries the VPN.

NetworkManager 1.42 dispatches them from ``_set_vpn_state`` (src/core/vpn/nm-vpn-connection.c):
``vpn-up`` when the VPN's internal state becomes ``STATE_ACTIVATED``, ``vpn-down`` when it
becomes ``STATE_DISCONNECTED`` or ``STATE_FAILED`` from ``STATE_ACTIVATED`` or
``STATE_DEACTIVATING`` (and ``vpn-pre-up``/``vpn-pre-down``, which make it wait, before them).
On the bus the internal states are folded (``_state_to_nm_vpn_state``): ``PRE_UP`` is still
``ip-config-get`` (4) and ``DEACTIVATING`` still ``activated`` (5). So what the bus shows maps
exactly: the ``VpnState`` becoming ``activated`` is ``vpn-up``; leaving ``activated`` for
``failed`` (6) or ``disconnected`` (7) is ``vpn-down``. A VPN that never reached ``activated``
(a failed attempt) runs neither, as in NetworkManager.

``$1`` and ``VPN_IP_IFACE``: nm-dispatcher-utils.c gives the VPN's own IP interface
(``nm_vpn_connection_get_ip_iface()``: the plugin's tunnel, while its link exists), else the
parent device's IP interface, else its interface. The source names the VPN's own interface
(``VpnIpInterface``, ``VpnIpIndex``): the device whose IP configuration object is the VPN's
(NetworkManager keeps one per interface, nm_l3cfg_ipconfig_acquire()); a VPN without a tunnel
of its own (IPsec on the parent's link) has none.
"""

from __future__ import annotations

from collections.abc import Mapping

from netevd.core.directories import Directory
from netevd.core.events import NETWORKMANAGER
from netevd.core.nm_states import VPN_STATES
from netevd.core.state import State

ENDED = frozenset({"failed", "disconnected"})
ACTIONS = {Directory.VPN_UP: "vpn-up", Directory.VPN_DOWN: "vpn-down"}


def vpn_directory(old: Mapping[str, str], new: Mapping[str, str]) -> Directory | str | None:
    """``vpn-up``/``vpn-down`` for a change of the VPN's VpnState (see the module's doc); the
    unknown value itself (a str) for a state NetworkManager 1.42 does not have; else None."""
    value = new.get("VpnState")
    was = old.get("VpnState", "")
    if value is None or value == was:
        return None
    if value not in VPN_STATES:
        return f"VpnState={value}"
    if value == "activated":
        return Directory.VPN_UP
    if was == "activated" and value in ENDED:
        return Directory.VPN_DOWN
    return None


def number_of(text: str | None) -> int:
    """A property holding an ifindex ("" or absent: 0)."""
    return int(text) if text and text.isascii() and text.isdigit() else 0


def parent_props(state: State, vpn: Mapping[str, str]) -> Mapping[str, str]:
    """What NetworkManager reported of the VPN's device (its ``Devices``' one), by its link."""
    index = number_of(vpn.get("DeviceIndex"))
    return state.managed_props(NETWORKMANAGER, index) if index else {}


def parent_iface(props: Mapping[str, str]) -> str:
    """nm_device_get_ip_iface(): the device's IP interface, else its interface."""
    return props.get("IpInterface") or props.get("Interface") or props.get("Name", "")


def own_interface(state: State, vpn: Mapping[str, str], directory: Directory) -> tuple[int, str]:
    """(ifindex, name) of the VPN's own IP interface; (0, "") when it has none. At ``vpn-down``
    only while the kernel still has that link (NetworkManager names it from the link)."""
    name, index = vpn.get("VpnIpInterface", ""), number_of(vpn.get("VpnIpIndex"))
    if not name or not index:
        return 0, ""
    if directory is Directory.VPN_DOWN:
        link = state.links.get(index)
        if link is None or link.name != name:
            return 0, ""
    return index, name
