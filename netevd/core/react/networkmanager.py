"""Reactions to what NetworkManager reports (pure): device states and the manager's state.

A device's ``DeviceState`` (the name NetworkManager's own ``StateChanged`` signal gave, never a
re-read) is looked up in a fixed table of directories; a property update that leaves the state
as it was fires nothing. The environment carries NetworkManager's own names (as its dispatcher
gives them), and ``CONNECTION_ID``/``CONNECTION_UUID`` (and the profile's ``CONNECTION_DBUS_PATH``,
``CONNECTION_FILENAME``, ``CONNECTION_EXTERNAL``) outlive the active connection: by state 30 it
is gone, and the state keeps the last values it had.
"""

from __future__ import annotations

from collections.abc import Mapping

from netevd.core.directories import Directory, directory_for
from netevd.core.nm_states import CONNECTIVITY, DEVICE_STATES, GLOBAL_STATES
from netevd.core.views import LinkView

# netevd's property names (the source's) -> NetworkManager-dispatcher's variable names.
DEVICE_ENV = (
    ("Interface", "DEVICE_IFACE"),
    ("IpInterface", "DEVICE_IP_IFACE"),
    ("ConnectionId", "CONNECTION_ID"),
    ("ConnectionUuid", "CONNECTION_UUID"),
    ("ConnectionPath", "CONNECTION_DBUS_PATH"),
    ("ConnectionFilename", "CONNECTION_FILENAME"),
    ("Ip4Gateway", "IP4_GATEWAY"),
    ("Ip6Gateway", "IP6_GATEWAY"),
    ("Reason", "REASON"),
    ("DeviceStateOld", "NM_STATE_OLD"),
)
DOCUMENT_PROPERTIES = (
    "DeviceState",
    "DeviceStateOld",
    "Reason",
    "Interface",
    "IpInterface",
    "ConnectionId",
    "ConnectionUuid",
    "ConnectionPath",
    "ConnectionFilename",
    "ConnectionExternal",
    "Ip4Gateway",
    "Ip6Gateway",
    "Ip4Addresses",
    "Ip6Addresses",
)


def device_directory(old: Mapping[str, str], new: Mapping[str, str]) -> Directory | str | None:
    """The directory a device's new state fires; the unknown value itself (a str) when it has
    none; None when the state did not change."""
    value = new.get("DeviceState")
    if value is None or value == old.get("DeviceState"):
        return None
    # every NMDeviceState name fires its directory (netevd.core.nm_states)
    directory = directory_for(value) if value in DEVICE_STATES else None
    return directory if directory is not None else f"DeviceState={value}"


def device_env(props: Mapping[str, str], kernel: LinkView) -> dict[str, str]:
    """NetworkManager's variables; ADDRESSES, GATEWAY and GATEWAY6 from NetworkManager where
    the kernel's picture has none yet (NetworkManager's signal may come before the kernel's
    address and route messages)."""
    env = {name: props[key] for key, name in DEVICE_ENV if props.get(key)}
    if props.get("ConnectionExternal") == "1":  # as NetworkManager-dispatcher: only when set
        env["CONNECTION_EXTERNAL"] = "1"
    if not kernel.gateway and props.get("Ip4Gateway"):
        env["GATEWAY"] = props["Ip4Gateway"]
    if not kernel.gateway6 and props.get("Ip6Gateway"):
        env["GATEWAY6"] = props["Ip6Gateway"]
    if not kernel.addresses:
        reported = f"{props.get('Ip4Addresses', '')} {props.get('Ip6Addresses', '')}".split()
        usable = [a.split("/")[0] for a in reported if not a.lower().startswith("fe80:")]
        if usable:
            env["ADDRESSES"] = " ".join(usable)
    return env


def device_document(props: Mapping[str, str]) -> dict[str, object]:
    return {key: props[key] for key in DOCUMENT_PROPERTIES if props.get(key)}


def manager_env(props: Mapping[str, str]) -> dict[str, str]:
    """``manager.d``'s STATE (the global state's name) and CONNECTIVITY, when known and valid."""
    env: dict[str, str] = {}
    if props.get("State") in GLOBAL_STATES:
        env["STATE"] = props["State"]
    if props.get("Connectivity") in CONNECTIVITY:
        env["CONNECTIVITY"] = props["Connectivity"]
    return env
