"""The reference of every configuration key: type, default, allowed values and meaning.

Types and allowed values come from the schema's own checks (netevd.config.schema and .values),
defaults from the frozen dataclasses of netevd.core.config, and meanings from the table below;
netevd.yaml(5) is generated from it, and tests/unit/test_reference.py fails when a key of the
schema has no meaning here, or this names a key the schema does not have.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from netevd.config.schema import SCHEMA, Custom, ListOf, Section
from netevd.core import config as core

MEANINGS: Final[dict[str, str]] = {
    "system.log_level": "Log verbosity.",
    "system.backend": (
        "Where network state comes from besides the kernel, which is watched with every backend. "
        "auto picks systemd-networkd if its bus name has an owner, else NetworkManager, else none "
        "(kernel events only)."
    ),
    "system.script_dirs": (
        "Directories holding the <state>.d/ script directories. A script in an earlier "
        "directory shadows one of the same name in a later one."
    ),
    "system.user": (
        'The user netevd drops to after start, keeping only CAP_NET_ADMIN; "" or root keeps '
        "the starting user. A user that does not exist stops the start."
    ),
    "system.state_dir": "netevd's own state directory (the policy-routing tables it chose).",
    "system.netlink_rcvbuf": (
        "Receive buffer of the netlink socket in bytes. An overrun costs a full re-dump, never "
        "a lost state."
    ),
    "scripts.timeout": "Seconds a script may run; then its whole process group is killed.",
    "scripts.max_parallel": (
        "Interfaces whose scripts may run at the same time. Scripts of one interface always run "
        "one after the other."
    ),
    "scripts.routes_debounce_ms": (
        "Quiet window in milliseconds that coalesces routes.d runs, and the address, mtu and "
        "gateway hooks, per interface and directory."
    ),
    "scripts.run_startup_triggers": (
        "Replay the existing state at start, so scripts see every interface once (NETEVD_REPLAY=1)."
    ),
    "scripts.shutdown_grace": "Seconds running scripts get to finish on SIGTERM.",
    "scripts.stdin_json": (
        "Also give each script the event document (NETEVD_JSON, schema netevd.event.v1) on "
        "its standard input; off, standard input is /dev/null."
    ),
    "compat.networkd_dispatcher": (
        "Also run networkd-dispatcher's scripts (the <state>.d directories under "
        "networkd_dispatcher_dirs) with its environment: IFACE, STATE, AdministrativeState, "
        "OperationalState, ESSID, ADDR, IP_ADDRS, IP6_ADDRS, json."
    ),
    "compat.networkd_dispatcher_dirs": (
        "Where networkd-dispatcher's <state>.d directories are; an earlier directory's script "
        "shadows one of the same name in a later one."
    ),
    "compat.nm_dispatcher": (
        "NetworkManager backend: also run NetworkManager-dispatcher's scripts with $1 (the "
        "interface) and $2 (up, down, dhcp4-change, dhcp6-change, connectivity-change, "
        "hostname, vpn-up, vpn-down) and its environment; no-wait.d scripts run without "
        "holding the queue; pre-up.d and pre-down.d are never run (NetworkManager cannot be "
        "made to wait)."
    ),
    "compat.nm_dispatcher_dirs": (
        "NetworkManager-dispatcher's directories (their files are the scripts); an earlier "
        "directory's script shadows one of the same name in a later one."
    ),
    "monitoring.interfaces": "Interfaces to watch (names or globs); empty means all.",
    "monitoring.exclude": (
        "Interfaces never to watch, even when interfaces lists them. Container links (veth*, "
        "docker*, br-*) are good candidates."
    ),
    "monitoring.link_local": (
        "Run address-added.d and address-removed.d for link-local addresses too (fe80::/10, "
        "169.254/16); they come and go with every carrier change, so they are left out by default."
    ),
    "monitoring.routes": (
        "Which routes netevd follows. all: every route of every table. none: only what "
        "netevd's own features read (default routes, the on-link routes the kernel adds for "
        "addresses, netevd's own). tables: none, plus every route of route_tables. What is not "
        "followed is dropped in the kernel by a socket filter and is not in /api/v1/routes or "
        "routes.d's picture; a router with a full table and no routes.d scripts wants none. "
        "Read at start."
    ),
    "monitoring.route_tables": (
        "With routes: tables, the tables followed in full (254 is main); ignored, with a "
        "warning, otherwise."
    ),
    "monitoring.gateway_liveness": (
        "Keep a managed neighbour entry (ARP / NDP, protocol 78) for the gateway of every "
        "monitored link, which the kernel keeps resolved with its own probes: gateway.d runs "
        "with EVENT=unreachable when it fails, reachable when it answers again, lladdr-changed "
        "when its MAC changes. How fast a dead gateway is seen is the neighbour table's "
        "(net.ipv4.neigh.DEV.*, net.ipv6.neigh.DEV.*; docs/policy-routing.md)."
    ),
    "monitoring.gateway_liveness_cleanup": (
        "With gateway_liveness, remove netevd's neighbour entries (protocol 78, nobody else's) "
        "when it stops; false leaves them to the kernel."
    ),
    "monitoring.neighbors": (
        "Neighbours (addresses or networks) whose every NUD change (reachable, stale, failed, "
        "...) runs neighbor.d with NEIGH_ADDRESS, NEIGH_STATE, NEIGH_STATE_OLD and LLADDR; "
        "never for unlisted ones. Read at start."
    ),
    "routing.policy_rules": (
        "Interfaces that get per-interface policy routing: a table of their own with their "
        "default route, and from ADDR / to ADDR rules that look it up."
    ),
    "routing.table_base": (
        "The table of an interface is table_base + ifindex; tables 253-255 and tables holding "
        "routes netevd does not own are skipped."
    ),
    "routing.to_rules": "Also install to ADDR lookup T (priority + 1), not only from ADDR.",
    "routing.tables": "Pinned tables: interface name to table number, each table once.",
    "routing.priority": (
        "Priority of the from rules (to rules take priority + 1): after typical user rules, "
        "before main's 32766."
    ),
    "routing.cleanup_on_exit": (
        "Remove every rule and route netevd installed when it stops. Off by default so traffic "
        "keeps flowing across a restart; the next start reconciles."
    ),
    "backends.systemd_networkd.emit_json": (
        "Pass the link's networkd Describe() JSON to scripts in $JSON."
    ),
    "backends.dhclient.use_dns": "Push the lease's DNS servers to systemd-resolved.",
    "backends.dhclient.use_domain": "Push the lease's search domains to systemd-resolved.",
    "backends.dhclient.use_hostname": "Set the hostname from the lease through hostnamed.",
    "backends.dhclient.lease_paths": "Directories where dhclient's lease files are read from.",
    "backends.networkmanager": "Reserved for NetworkManager settings.",
    "api.enabled": "Serve the HTTP API (REST, event stream, metrics, dashboard).",
    "api.bind_address": "Address the API listens on.",
    "api.port": "Port the API listens on.",
    "api.token": (
        "Bearer token that mutating endpoints require over TCP (Authorization: Bearer TOKEN); "
        "once set it is required on loopback too. Error messages never repeat it."
    ),
    "api.token_file": (
        "File holding the token (keep it mode 0600), read when the API starts. Give token or "
        "token_file, not both."
    ),
    "api.socket": (
        "Also serve the API on this unix socket (mode 0660); the file mode is the access control."
    ),
    "api.allowed_hosts": (
        "Host names, besides the bound address, localhost, 127.0.0.1 and [::1], that requests "
        "may name in their Host header; any other Host, and any foreign Origin, is refused "
        "(DNS rebinding, cross-site requests)."
    ),
    "api.max_connections": (
        "Connections the API holds at most (fewer when the descriptor limit is lower, keeping a "
        "reserve for scripts, netlink and D-Bus); past it the oldest idle one is closed."
    ),
    "api.max_streams": "Event streams (GET /api/v1/events/stream) open at once; past it 503.",
    "api.header_timeout": "Seconds a connection may take to send a request; then it is closed.",
    "metrics.enabled": (
        "Expose Prometheus metrics at GET /metrics on the API; when off, nothing is counted "
        "and prometheus_client is never loaded. Read at start."
    ),
    "filters": "Event filters, applied to every script run in order.",
    "filters[].match_rule": (
        "All given fields must match (match is accepted as another name, not both)."
    ),
    "filters[].match_rule.interface": "Exact interface name.",
    "filters[].match_rule.interface_pattern": "Glob on the interface name.",
    "filters[].match_rule.event_type": "The state that fired (the script directory without .d).",
    "filters[].match_rule.ip_family": "The event's link has an address of that family.",
    "filters[].match_rule.backend": "The event's source.",
    "filters[].match_rule.condition": "A small expression on the event (see CONDITIONS).",
    "filters[].action": "What a match does: run the scripts, ignore the run, or log and run.",
}


@dataclass(frozen=True)
class KeyRef:
    path: str  # system.log_level, filters[].match_rule.interface
    kind: str  # boolean | integer | number | string | list of ... | mapping
    default: str  # as YAML would write it
    allowed: str
    meaning: str


def keys() -> list[KeyRef]:
    """Every documented key of the current schema, in the schema's order."""
    return list(_walk(SCHEMA, "", core.Config()))


def _walk(section: Section, prefix: str, defaults: object) -> Iterator[KeyRef]:
    for key, spec in section.fields.items():
        if key in section.aliases:
            continue  # documented under the name it stands for
        path = f"{prefix}{key}"
        name = section.rename.get(key, key)
        default = getattr(defaults, name, None)
        if isinstance(spec, Section):
            if not spec.fields:
                yield _ref(path, "mapping", "{}", "no keys yet")
                continue
            if "[]" in path:  # a mapping inside a list item: it gets its own line
                yield _ref(path, "mapping", "{}", "the keys below")
            yield from _walk(spec, f"{path}.", default)
        elif isinstance(spec, Custom):
            if spec.hidden:
                continue
            shown = "{}" if spec.kind == "mapping" and not default else _show(default)
            yield _ref(path, spec.kind, shown, spec.allowed)
            if spec.items is not None:
                yield from _walk(spec.items, f"{path}[].", spec.items.cls())
        elif isinstance(spec, ListOf):
            yield _ref(path, f"list of {spec.item.kind}s", _show(default), spec.expected)
        else:
            yield _ref(path, spec.kind, _show(default), spec.allowed)


def _ref(path: str, kind: str, default: str, allowed: str) -> KeyRef:
    return KeyRef(path, kind, default, allowed, MEANINGS[path])


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return "{" + ", ".join(f"{k}: {v}" for k, v in value) + "}"
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if dataclasses.is_dataclass(value):
        return "{}"
    return str(value)
