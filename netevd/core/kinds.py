"""The one vocabulary of event kinds: what the engine's records are called.

The event log, the log lines, ``GET /api/v1/events?type=``, the OpenAPI document, the CLI's
``events --type`` choices, the ``EVENT`` variable scripts see and the dashboard all take their
names from here (tests/unit/test_vocabulary.py proves they agree). Script directories have their
own enum, netevd.core.directories.Directory.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # one kernel message each
    LINK = "link"
    LINK_REMOVED = "link-removed"
    ADDRESS_ADDED = "address-added"
    ADDRESS_REMOVED = "address-removed"
    ROUTE_ADDED = "route-added"
    ROUTE_REMOVED = "route-removed"
    RULE_ADDED = "rule-added"
    RULE_REMOVED = "rule-removed"
    NEIGHBOR = "neighbor"  # one of netevd's own neighbour entries changed (gateway liveness)
    # a full picture: the startup replay, or the re-dump after an overrun or a reconnect
    REPLAY = "replay"
    RESYNC = "resync"
    # a network manager's report (systemd-networkd, NetworkManager): about one link, or itself
    MANAGER_LINK = "manager-link"
    MANAGER = "manager"
    # NetworkManager's report about one VPN connection (an active connection with Vpn true)
    VPN = "vpn"
    # a dhclient lease: new or changed, or gone (expired, released, removed)
    LEASE = "lease"
    LEASE_LOST = "lease-lost"
    # netevd's own doings
    SOURCE = "source"  # a source came up, went down, crashed or was restarted
    CONFIG = "config"  # a configuration was loaded (SIGHUP, POST /api/v1/reload)
    ROUTING = "routing"  # the policy-routing executor applied a plan
    SERVICE_CALL = "service-call"  # a call to systemd-resolved or hostnamed, and its outcome


KINDS: tuple[str, ...] = tuple(kind.value for kind in EventKind)
