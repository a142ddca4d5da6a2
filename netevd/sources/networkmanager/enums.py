"""NetworkManager's D-Bus enums as names (pure data). The state names themselves are the core's
(netevd.core.nm_states): here they get NetworkManager's numbers.

Taken from ``src/libnm-core-public/nm-dbus-interface.h`` of NetworkManager 1.42.4 (the version
Debian 12 ships): each ``NM_..._FOO_BAR`` constant becomes the word ``foo-bar``. Newer releases
add device state reasons after 67; :func:`reason_name` names those by number instead of
rejecting the state change they come with.
"""

from __future__ import annotations

from collections.abc import Mapping

from netevd.core import nm_states

# NMDeviceState
DEVICE_STATES: Mapping[int, str] = dict(
    zip(range(0, 130, 10), nm_states.DEVICE_STATES, strict=True)
)

# NMState (the Manager's global State): 0 (unknown) to 70 (connected-global) in steps of 10
NM_STATES: Mapping[int, str] = dict(zip(range(0, 80, 10), nm_states.GLOBAL_STATES, strict=True))

# NMConnectivityState
CONNECTIVITY: Mapping[int, str] = dict(enumerate(nm_states.CONNECTIVITY))

# NMDeviceStateReason, 0..67 in 1.42
DEVICE_STATE_REASONS: Mapping[int, str] = dict(
    enumerate(
        (
            "none",
            "unknown",
            "now-managed",
            "now-unmanaged",
            "config-failed",
            "ip-config-unavailable",
            "ip-config-expired",
            "no-secrets",
            "supplicant-disconnect",
            "supplicant-config-failed",
            "supplicant-failed",
            "supplicant-timeout",
            "ppp-start-failed",
            "ppp-disconnect",
            "ppp-failed",
            "dhcp-start-failed",
            "dhcp-error",
            "dhcp-failed",
            "shared-start-failed",
            "shared-failed",
            "autoip-start-failed",
            "autoip-error",
            "autoip-failed",
            "modem-busy",
            "modem-no-dial-tone",
            "modem-no-carrier",
            "modem-dial-timeout",
            "modem-dial-failed",
            "modem-init-failed",
            "gsm-apn-failed",
            "gsm-registration-not-searching",
            "gsm-registration-denied",
            "gsm-registration-timeout",
            "gsm-registration-failed",
            "gsm-pin-check-failed",
            "firmware-missing",
            "removed",
            "sleeping",
            "connection-removed",
            "user-requested",
            "carrier",
            "connection-assumed",
            "supplicant-available",
            "modem-not-found",
            "bt-failed",
            "gsm-sim-not-inserted",
            "gsm-sim-pin-required",
            "gsm-sim-puk-required",
            "gsm-sim-wrong",
            "infiniband-mode",
            "dependency-failed",
            "br2684-failed",
            "modem-manager-unavailable",
            "ssid-not-found",
            "secondary-connection-failed",
            "dcb-fcoe-failed",
            "teamd-control-failed",
            "modem-failed",
            "modem-available",
            "sim-pin-incorrect",
            "new-activation",
            "parent-changed",
            "parent-managed-changed",
            "ovsdb-failed",
            "ip-address-duplicate",
            "ip-method-unsupported",
            "sriov-configuration-failed",
            "peer-not-found",
        )
    )
)
# A later NetworkManager's reason is named by number ("reason-68"); beyond this it is absurd.
MAX_REASON = 0xFFFF


def reason_name(number: int) -> str | None:
    """The reason's word, ``reason-N`` for one newer than 1.42, None when absurd."""
    if number in DEVICE_STATE_REASONS:
        return DEVICE_STATE_REASONS[number]
    return f"reason-{number}" if 0 <= number <= MAX_REASON else None


# NMVpnConnectionState (nm-vpn-dbus-interface.h): a VPN connection's VpnState
VPN_STATES: Mapping[int, str] = dict(enumerate(nm_states.VPN_STATES))

# NMActiveConnectionStateReason, 0..14 in 1.42: the reason VpnStateChanged(uu) gives
ACTIVE_STATE_REASONS: Mapping[int, str] = dict(
    enumerate(
        (
            "unknown",
            "none",
            "user-disconnected",
            "device-disconnected",
            "service-stopped",
            "ip-config-invalid",
            "connect-timeout",
            "service-start-timeout",
            "service-start-failed",
            "no-secrets",
            "login-failed",
            "connection-removed",
            "dependency-failed",
            "device-realize-failed",
            "device-removed",
        )
    )
)
# NMActivationStateFlags: the active connection represents an external activation
# (nm_active_connection_get_state_flags() sets it exactly for NM_ACTIVATION_TYPE_EXTERNAL)
ACTIVATION_STATE_FLAG_EXTERNAL = 0x80


def active_reason_name(number: int) -> str | None:
    """An active connection's state reason as a word, ``reason-N`` for a newer one."""
    if number in ACTIVE_STATE_REASONS:
        return ACTIVE_STATE_REASONS[number]
    return f"reason-{number}" if 0 <= number <= MAX_REASON else None
