"""Reactions to NetworkManager's VPN connections (pure): ``vpn-up.d`` and ``vpn-down.d``.

When they fire: netevd.core.nm_vpn (NetworkManager 1.42's own rule, seen from the bus). A run
is about the VPN's own IP interface when it has one (``LINK=tun0``), else its device's; it
carries netevd's usual variables (``ADDRESSES``, ``GATEWAY`` from the kernel's picture of that
link, or from the VPN's IP configuration until the kernel shows it) and NetworkManager's:
``DEVICE_IFACE``, ``DEVICE_IP_IFACE`` (the device), ``CONNECTION_ID``, ``CONNECTION_UUID``,
``CONNECTION_DBUS_PATH``, ``CONNECTION_FILENAME`` (the VPN's profile), ``REASON`` (its
VpnStateChanged reason), ``VPN_IP_IFACE`` and, at ``vpn-up``, ``VPN_IP4_*``/``VPN_IP6_*`` as
NetworkManager-dispatcher names them. With ``compat.nm_dispatcher`` NetworkManager-dispatcher's
``vpn-up``/``vpn-down`` follow (netevd.core.compat.nm_dispatcher.vpn_run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netevd.core.actions import Action, RejectLink, RunScripts, SkipUnknownState
from netevd.core.compat.nm_dispatcher import PASSED_ON, connection_items, ip_items, vpn_run
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.environment import link_name_problem
from netevd.core.events import NETWORKMANAGER, Context
from netevd.core.filters import monitored
from netevd.core.kinds import EventKind
from netevd.core.model import Link
from netevd.core.nm_vpn import (
    number_of,
    own_interface,
    parent_iface,
    parent_props,
    vpn_directory,
)
from netevd.core.react.networkmanager import device_document
from netevd.core.runs import apply_filters, policy_env, script_run
from netevd.core.state import State
from netevd.core.views import LinkView, view

VPN_DOCUMENT = (
    "VpnState",
    "VpnStateOld",
    "Reason",
    "ConnectionId",
    "ConnectionUuid",
    "ConnectionPath",
    "ConnectionFilename",
    "VpnIpInterface",
    "Ip4Gateway",
    "Ip6Gateway",
    "Ip4Addresses",
    "Ip6Addresses",
    "Ip4Nameservers",
    "Ip6Nameservers",
    "Ip4Domains",
    "Ip6Domains",
)


def react_vpns(
    before: State,
    after: State,
    numbers: Iterable[int],
    ctx: Context,
    config: Config,
    kind: EventKind = EventKind.VPN,
) -> list[Action]:
    """The runs the VPNs *numbers*' changes between *before* and *after* call for."""
    if after.backend != NETWORKMANAGER or (ctx.replay and not config.scripts.run_startup_triggers):
        return []
    actions: list[Action] = []
    for number in sorted(numbers):
        actions += _vpn(before, after, number, ctx, config, kind)
    return apply_filters(actions, config)


def _vpn(
    before: State, after: State, number: int, ctx: Context, config: Config, kind: EventKind
) -> list[Action]:
    old, new = before.vpns.get(number, {}), after.vpns.get(number, {})
    if old.get("ConnectionUuid") not in (None, new.get("ConnectionUuid")):
        old = {}  # another VPN under the number (a restarted NetworkManager's): vpn_state
    directory = vpn_directory(old, new)
    if directory is None:
        return []
    if not isinstance(directory, Directory):  # the unknown value, named
        return [SkipUnknownState(NETWORKMANAGER, 0, directory)]
    vpn = {**new, "VpnStateOld": old.get("VpnState", "")}
    current = _target(after, vpn, directory)
    if current is None:
        return []
    name = current.link.name
    if problem := link_name_problem(name):
        return [RejectLink(current.link.index, name, problem)]
    if not monitored(name, config.monitoring):
        return []
    extra = {**vpn_env(after, vpn, directory, current), **policy_env(after, name, config)}
    sections = {"networkmanager": device_document(parent_props(after, vpn)), "vpn": _document(vpn)}
    run = script_run(
        current, directory, NETWORKMANAGER, ctx, kind.value, after, extra=extra, document=sections
    )
    actions: list[Action] = [run]
    if config.compat.nm_dispatcher:
        compat = vpn_run(after, vpn, directory, _passed(run), ctx)
        actions += [compat] if compat is not None else []
    return actions


def _target(state: State, vpn: Mapping[str, str], directory: Directory) -> LinkView | None:
    """The link a run is about: the VPN's own IP interface, else its device's link."""
    index, name = own_interface(state, vpn, directory)
    if not index:
        index = number_of(vpn.get("DeviceIndex"))
        name = parent_iface(parent_props(state, vpn))
    if not index or not name:
        return None
    current = view(state, index)
    if current is not None and current.link.name == name:
        return current
    # NetworkManager may speak of the link before the kernel's message reached us.
    return LinkView(Link(index, name), (), "", "", "unknown")


def vpn_env(
    state: State, vpn: Mapping[str, str], directory: Directory, current: LinkView
) -> dict[str, str]:
    """NetworkManager's variables of a VPN run (see the module's doc)."""
    device = parent_props(state, vpn)
    env = {
        "DEVICE_IFACE": device.get("Interface", ""),
        "DEVICE_IP_IFACE": parent_iface(device),
        "REASON": vpn.get("Reason", ""),
        **connection_items(vpn, vpn=True),
    }
    _, own = own_interface(state, vpn, directory)
    if own:
        env["VPN_IP_IFACE"] = own
        if directory is Directory.VPN_UP:
            for family in ("4", "6"):
                env.update(ip_items(vpn, family, prefix="VPN_"))
        env.update(_reported(vpn, current))
    return env


def _reported(vpn: Mapping[str, str], current: LinkView) -> dict[str, str]:
    """ADDRESSES and GATEWAY of the VPN's own link from its IP configuration, while the
    kernel's picture of the link has none yet."""
    found: dict[str, str] = {}
    if not current.addresses:
        reported = f"{vpn.get('Ip4Addresses', '')} {vpn.get('Ip6Addresses', '')}".split()
        usable = [a.split("/")[0] for a in reported if not a.lower().startswith("fe80:")]
        if usable:
            found["ADDRESSES"] = " ".join(usable)
    if not current.gateway and vpn.get("Ip4Gateway"):
        found["GATEWAY"] = vpn["Ip4Gateway"]
    if not current.gateway6 and vpn.get("Ip6Gateway"):
        found["GATEWAY6"] = vpn["Ip6Gateway"]
    return found


def _document(vpn: Mapping[str, str]) -> dict[str, str]:
    return {key: vpn[key] for key in VPN_DOCUMENT if vpn.get(key)}


def _passed(run: RunScripts) -> dict[str, str]:
    """What netevd's own run hands on to NetworkManager-dispatcher's (its NETEVD_*)."""
    env = run.env_dict()
    return {key: env[key] for key in PASSED_ON if key in env}
