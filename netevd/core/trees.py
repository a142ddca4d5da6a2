"""Script trees: whose scripts a run is for (netevd's own, or a tool netevd stands in for).

A run (netevd.core.actions.RunScripts) names its tree; the script executor maps the tree to its
base directories and to the way scripts are found there (netevd.executors.scripts.discovery).
"""

from __future__ import annotations

from enum import StrEnum


class Tree(StrEnum):
    # netevd's own ``<state>.d`` directories under system.script_dirs
    NETEVD = "netevd"
    # networkd-dispatcher's ``<state>.d`` directories under compat.networkd_dispatcher_dirs
    NETWORKD_DISPATCHER = "networkd-dispatcher"
    # NetworkManager-dispatcher's flat dispatcher.d directories under compat.nm_dispatcher_dirs
    NM_DISPATCHER = "nm-dispatcher"


class DispatcherAction(StrEnum):
    """NetworkManager-dispatcher's actions: what its tree's runs are named by (``$2``), where
    netevd's own tree names a run by its Directory."""

    UP = "up"
    DOWN = "down"
    DHCP4_CHANGE = "dhcp4-change"
    DHCP6_CHANGE = "dhcp6-change"
    CONNECTIVITY_CHANGE = "connectivity-change"
    HOSTNAME = "hostname"
    VPN_UP = "vpn-up"
    VPN_DOWN = "vpn-down"


TREES: tuple[str, ...] = tuple(tree.value for tree in Tree)
# NetworkManager-dispatcher's scripts are one flat tree for every action: a listing
# (/api/v1/scripts, ``netevd list scripts``) shows them once, under this name ("dispatcher.d").
NM_DISPATCHER_DIRECTORY = "dispatcher"
