"""NetworkManager-dispatcher's scripts run by netevd (``compat.nm_dispatcher``), pure.

The actions an observer sees after the fact, when NetworkManager 1.42 dispatches them
(src/core/devices/nm-device.c, src/core/nm-manager.c; docs/migration.md cites each):

- ``up``: a device enters ``activated``;
- ``down``: a device leaves ``activated`` or ``deactivating`` for any state but
  ``deactivating`` (``nmcli connection down``: 110 -> 30; carrier lost: 100 -> 20);
- ``dhcp4-change`` / ``dhcp6-change``: the device's DHCP options change to a lease (the first
  one, and every renewal: NetworkManager-dispatcher(8) and NetworkManager 1.44; 1.36-1.42 skip
  renewals, a regression fixed by NetworkManager commit cab80c5129);
- ``connectivity-change``: the manager's Connectivity changes;
- ``hostname``: the host name NetworkManager reports (Settings.Hostname) changes;
- ``vpn-up`` / ``vpn-down``: a VPN connection's VpnState becomes ``activated`` / leaves it for
  ``failed`` or ``disconnected`` (src/core/vpn/nm-vpn-connection.c, ``_set_vpn_state``; why
  exactly these: netevd.core.nm_vpn).

``pre-up``, ``pre-down``, ``vpn-pre-up`` and ``vpn-pre-down`` are never run: NetworkManager
waits for them, and an observer cannot make it wait. Each script gets ``$1`` (the device's IP
interface, else its interface; for a VPN its own IP interface first; ``none`` for hostname,
empty for connectivity-change) and ``$2`` (the action), and NetworkManager's environment as
nm-dispatcher-utils.c builds it: the connection variables (``CONNECTION_DBUS_PATH``,
``CONNECTION_FILENAME``, ``CONNECTION_EXTERNAL=1`` for an external activation, never for a
VPN: nm-dispatcher.c's _dispatcher_call), the device's, the IP and DHCP ones only while the
device is ``activated``, and for ``vpn-up`` with a VPN interface of its own ``VPN_IP_IFACE`` and
the VPN's ``VPN_IP4_*``/``VPN_IP6_*`` (``vpn-down``: ``VPN_IP_IFACE`` only, NetworkManager passes
no VPN configuration then).
"""

from __future__ import annotations

from collections.abc import Mapping

from netevd.core.actions import RunScripts
from netevd.core.directories import Directory
from netevd.core.environment import LINK_NAME_RE, validated
from netevd.core.events import NETWORKMANAGER, Context
from netevd.core.nm_vpn import ACTIONS as VPN_ACTIONS
from netevd.core.nm_vpn import number_of, own_interface, parent_iface, parent_props
from netevd.core.runs import json_object
from netevd.core.state import State
from netevd.core.trees import DispatcherAction, Tree

# The actions run here, and so the directory names of this tree's runs.
ACTIONS = tuple(action.value for action in DispatcherAction)
PASSED_ON = ("NETEVD_SEQ", "NETEVD_REPLAY", "NETEVD_JSON")
# The settings connection's (nm-dispatcher.c's connection_props) and the applied connection's.
CONNECTION = (
    ("ConnectionPath", "CONNECTION_DBUS_PATH"),
    ("ConnectionFilename", "CONNECTION_FILENAME"),
    ("ConnectionUuid", "CONNECTION_UUID"),
    ("ConnectionId", "CONNECTION_ID"),
)
NO_ADDRESS = "0.0.0.0"  # noqa: S104 (nm-dispatcher prints it for "no gateway", IPv6 too)
_NEXT_HOP_NONE = {"4": NO_ADDRESS, "6": "::"}
_OPTION_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def device_action(directory: str, old: str) -> str | None:
    """The action NetworkManager dispatches when a device enters *directory* from *old*."""
    if directory == "activated":
        return "up"
    if old in ("activated", "deactivating") and directory != "deactivating":
        return "down"
    return None


def nm_dispatcher_runs(run: RunScripts, state: State) -> list[RunScripts]:
    """The NetworkManager-dispatcher run that goes with netevd's device *run*: none or one."""
    if run.tree != Tree.NETEVD or not run.link_index:
        return []
    env = run.env_dict()
    if env.get("BACKEND") != NETWORKMANAGER:
        return []
    action = device_action(run.directory, env.get("NM_STATE_OLD", ""))
    if action is None:
        return []
    found = device_run(state, run.link_index, run.link_name, action, env, run)
    return [found] if found is not None else []


def device_run(
    state: State,
    index: int,
    name: str,
    action: str,
    passed: Mapping[str, str],
    timing: RunScripts | Context,
) -> RunScripts | None:
    """*action* for the device of link *index*: None when its interface name is not safe."""
    props = state.managed_props(NETWORKMANAGER, index)
    # NetworkManager's nm_device_get_ip_iface(): the IP interface, else the interface (its
    # IpInterface property is "" until it has one, the dispatcher's value never is).
    iface = parent_iface(props) or name
    if not LINK_NAME_RE.fullmatch(iface):
        return None
    values = {"NM_DISPATCHER_ACTION": action, **connection_items(props)}
    values.update(_device_items(props, iface))
    values.update((key, passed[key]) for key in PASSED_ON if key in passed)
    return _run(values, index, name, action, (iface, action), timing)


def vpn_run(
    state: State,
    vpn: Mapping[str, str],
    directory: Directory,
    passed: Mapping[str, str],
    timing: RunScripts | Context,
) -> RunScripts | None:
    """``vpn-up``/``vpn-down`` for the VPN *vpn* (its properties): nm_dispatcher_call_vpn()
    with the VPN's connection and its parent device; None without a known device (nm-dispatcher
    refuses a request with no device interface) or with a name that is not safe."""
    props = parent_props(state, vpn)
    iface = parent_iface(props)
    own_index, own = own_interface(state, vpn, directory)
    first = own or iface
    if not props.get("Interface") or not LINK_NAME_RE.fullmatch(first):
        return None
    action = VPN_ACTIONS[directory]
    values = {"NM_DISPATCHER_ACTION": action, **connection_items(vpn, vpn=True)}
    values.update(_device_items(props, iface))
    if own:
        values["VPN_IP_IFACE"] = own
        if directory is Directory.VPN_UP:  # vpn-down: NetworkManager passes no configuration
            for family in ("4", "6"):
                values.update(ip_items(vpn, family, prefix="VPN_"))
    values.update((key, passed[key]) for key in PASSED_ON if key in passed)
    index = own_index or number_of(vpn.get("DeviceIndex"))
    return _run(values, index, first, action, (first, action), timing)


def connection_items(props: Mapping[str, str], *, vpn: bool = False) -> dict[str, str]:
    """CONNECTION_DBUS_PATH, CONNECTION_FILENAME, CONNECTION_UUID, CONNECTION_ID and, for an
    external activation (never a VPN's), CONNECTION_EXTERNAL=1."""
    items = {var: props[key] for key, var in CONNECTION if props.get(key)}
    if props.get("ConnectionExternal") == "1" and not vpn:
        items["CONNECTION_EXTERNAL"] = "1"
    return items


def _device_items(props: Mapping[str, str], iface: str) -> dict[str, str]:
    """DEVICE_IFACE, DEVICE_IP_IFACE, and while the device is activated its IP and DHCP
    variables (construct_ip_items, construct_device_dhcp_items). An external activation has
    no IP configuration of NetworkManager's own (nm_device_get_l3cd() is NULL: fill_device_props
    sends empty IP dicts), so nm-dispatcher gives it ``IP4_NUM_ROUTES=0`` alone, whatever the
    device's IP4Config object shows (the lab's real NetworkManager 1.42 and nm-dispatcher)."""
    items = {"DEVICE_IFACE": props.get("Interface", ""), "DEVICE_IP_IFACE": iface}
    if props.get("DeviceState") == "activated" and props.get("ConnectionExternal") == "1":
        items["IP4_NUM_ROUTES"] = "0"
    elif props.get("DeviceState") == "activated":
        for family in ("4", "6"):
            items.update(ip_items(props, family))
            items.update(dhcp_items(props, family))
    return items


def manager_run(action: str, values: Mapping[str, str], timing: RunScripts | Context) -> RunScripts:
    """A manager-level action: ``connectivity-change`` (``$1`` empty), ``hostname`` (``none``)."""
    first = "none" if action == "hostname" else ""
    return _run({"NM_DISPATCHER_ACTION": action, **values}, 0, "", action, (first, action), timing)


def _run(
    values: Mapping[str, str],
    index: int,
    name: str,
    action: str,
    args: tuple[str, ...],
    timing: RunScripts | Context,
    always: tuple[str, ...] = (),
) -> RunScripts:
    env, dropped = validated(values, always)
    ts = timing.event_ts if isinstance(timing, RunScripts) else timing.ts
    return RunScripts(
        directory=DispatcherAction(action),
        link_index=index,
        link_name=name,
        env=env,
        seq=timing.seq,
        replay=timing.replay,
        dropped=dropped,
        event_ts=ts,
        tree=Tree.NM_DISPATCHER,
        args=args,
    )


def ip_items(props: Mapping[str, str], family: str, prefix: str = "") -> dict[str, str]:
    """``IPn_ADDRESS_N`` ("address/prefix gateway": nm_utils_ip4_addresses_from_variant()
    finds the one gateway, construct_ip_items prints it after every address; 0.0.0.0 without
    one), ``IPn_NUM_ADDRESSES``, ``IPn_GATEWAY``, ``IPn_ROUTE_N`` ("dst/prefix next-hop
    metric", default routes left out), ``IPn_NUM_ROUTES`` (always for IPv4),
    ``IPn_NAMESERVERS``, ``IPn_DOMAINS``: nm-dispatcher-utils.c's construct_ip_items; with
    *prefix* ``VPN_`` for a VPN's."""
    prefix = f"{prefix}IP{family}_"
    gateway = props.get(f"Ip{family}Gateway") or NO_ADDRESS
    addresses = props.get(f"Ip{family}Addresses", "").split()
    items: dict[str, str] = {}
    for n, address in enumerate(addresses):
        items[f"{prefix}ADDRESS_{n}"] = f"{address} {gateway}"
    if addresses:
        items[f"{prefix}NUM_ADDRESSES"] = str(len(addresses))
    items[f"{prefix}GATEWAY"] = gateway
    for key, name in (("Nameservers", "NAMESERVERS"), ("Domains", "DOMAINS")):
        if value := props.get(f"Ip{family}{key}", ""):
            items[prefix + name] = value
    routes = [r for r in routes_of(props.get(f"Ip{family}Routes", "")) if not _default(r)]
    for n, (dst, hop, metric) in enumerate(routes):
        items[f"{prefix}ROUTE_{n}"] = f"{dst} {hop or _NEXT_HOP_NONE[family]} {metric}"
    if routes or family == "4":
        items[f"{prefix}NUM_ROUTES"] = str(len(routes))
    return items


def routes_of(text: str) -> list[tuple[str, str, str]]:
    """The source's ``IpNRoutes``: ``dst/prefix next-hop metric`` entries joined by ``;``."""
    found = []
    for entry in text.split(";"):
        parts = entry.split()
        if len(parts) == 3:
            found.append((parts[0], "" if parts[1] == "-" else parts[1], parts[2]))
    return found


def _default(route: tuple[str, str, str]) -> bool:
    return route[0].endswith("/0")


def dhcp_items(props: Mapping[str, str], family: str) -> dict[str, str]:
    """``DHCPn_<OPTION>`` for each DHCP option (its name upper-cased; a name with anything but
    letters, digits and _ is left out), as construct_device_dhcp_items does; with Azure's
    ``private_245`` also passed as ``DHCP4_UNKNOWN_245``."""
    options = dhcp_options(props.get(f"Dhcp{family}Options", ""))
    items: dict[str, str] = {}
    for key, value in options.items():
        name = key.upper()
        if name and name[0] not in "0123456789" and set(name) <= _OPTION_CHARS:
            items[f"DHCP{family}_{name}"] = value
    if family == "4" and "private_245" in options and "unknown_245" not in options:
        items["DHCP4_UNKNOWN_245"] = options["private_245"]
    return items


def dhcp_options(text: str) -> dict[str, str]:
    """The source's ``DhcpNOptions`` (a JSON object of strings); {} for anything else."""
    return {str(k): v for k, v in json_object(text).items() if isinstance(v, str)}
