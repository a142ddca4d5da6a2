"""systemd-networkd's words (pure data): the state values of its links, and the properties
netevd reads of a link and of the manager. The one list of them: the networkd source asks
for and believes these (netevd.sources.networkd), the reactions match them
(netevd.core.react.managers), the environment validates them (netevd.core.environment) and
``netevd wait`` waits for them (netevd.core.online).
"""

from __future__ import annotations

from collections.abc import Mapping

# Operational states in networkd's own order, lowest first: `netevd wait` takes them as levels.
OPERATIONAL_LEVELS = (
    "off",
    "no-carrier",
    "dormant",
    "degraded-carrier",
    "carrier",
    "degraded",
    "enslaved",
    "routable",
)
STATE_VALUES: Mapping[str, frozenset[str]] = {
    "OperationalState": frozenset(OPERATIONAL_LEVELS) | {"missing"},
    "AdministrativeState": frozenset(
        {
            "pending",
            "initialized",
            "configuring",
            "configured",
            "unmanaged",
            "failed",
            "linger",
        }
    ),
}
# The properties scripts see, as networkd-dispatcher passed them (names validated here, so a
# lying peer cannot invent environment variables).
LINK_PROPERTIES = (
    "OperationalState",
    "AdministrativeState",
    "CarrierState",
    "AddressState",
    "IPv4AddressState",
    "IPv6AddressState",
    "OnlineState",
)
NETWORKD_MANAGER_PROPERTIES = (
    "OperationalState",
    "CarrierState",
    "AddressState",
    "IPv4AddressState",
    "IPv6AddressState",
    "OnlineState",
)
