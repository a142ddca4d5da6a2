"""The fixed set of script directories. A state from outside is looked up here, never joined
into a path (CVE-2022-29799: networkd-dispatcher ran ``../`` states from anywhere)."""

from __future__ import annotations

from enum import StrEnum


class Directory(StrEnum):
    # carrier, from the kernel with every backend
    CARRIER = "carrier"
    NO_CARRIER = "no-carrier"
    # systemd-networkd OperationalState (and the kernel-derived subset in `none` mode)
    OFF = "off"
    DORMANT = "dormant"
    DEGRADED_CARRIER = "degraded-carrier"
    DEGRADED = "degraded"
    ENSLAVED = "enslaved"
    ROUTABLE = "routable"
    MISSING = "missing"
    # systemd-networkd AdministrativeState
    PENDING = "pending"
    INITIALIZED = "initialized"
    CONFIGURING = "configuring"
    CONFIGURED = "configured"
    UNMANAGED = "unmanaged"
    FAILED = "failed"
    LINGER = "linger"
    # NetworkManager device states (10 unmanaged and 120 failed share the names above)
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"
    DISCONNECTED = "disconnected"
    PREPARE = "prepare"
    CONFIG = "config"
    NEED_AUTH = "need-auth"
    IP_CONFIG = "ip-config"
    IP_CHECK = "ip-check"
    SECONDARIES = "secondaries"
    ACTIVATED = "activated"
    DEACTIVATING = "deactivating"
    # a NetworkManager VPN connection comes up / goes (netevd.core.react.vpn)
    VPN_UP = "vpn-up"
    VPN_DOWN = "vpn-down"
    # manager-level and routing-table changes
    MANAGER = "manager"
    ROUTES = "routes"
    # what the kernel says happened, with every backend (netevd.core.react.kernel_changes)
    LINK_ADDED = "link-added"
    LINK_REMOVED = "link-removed"
    ADDRESS_ADDED = "address-added"
    ADDRESS_REMOVED = "address-removed"
    MTU = "mtu"
    GATEWAY = "gateway"
    NEIGHBOR = "neighbor"  # a listed neighbour's NUD state changed (monitoring.neighbors)


def directory_for(value: str) -> Directory | None:
    """The directory for a state string from outside, or None when there is none."""
    try:
        return Directory(value)
    except ValueError:
        return None


# Kernel-derived operational states (backend `none`): which of them fire a directory.
# `carrier`/`no-carrier` are not in the list: carrier changes fire those for every backend.
KERNEL_STATE_DIRECTORIES = {
    "off": Directory.OFF,
    "degraded": Directory.DEGRADED,
    "routable": Directory.ROUTABLE,
}
