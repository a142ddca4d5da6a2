"""The current configuration schema, and the walk that judges data against it.

Each key is a scalar check (netevd.config.values), a list of them, a section of further keys or
a custom parser; every problem is reported with its key path and the walk goes on, so one run
lists them all. A bad value leaves the key at its default (the caller refuses the whole load).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from netevd.config.report import Report, show
from netevd.config.values import (
    Invalid,
    Scalar,
    absolute_path,
    api_token,
    bind_address,
    boolean,
    condition,
    event_type,
    host_name,
    integer,
    interface_name,
    neighbour_address,
    one_of,
    optional_path,
    pinned_tables,
    port_number,
    route_table,
    seconds,
    user_name,
)
from netevd.core import config as core
from netevd.core.config import Config

MIN_CONNECTIONS: Final = 8  # room for the CLI, the dashboard and a stream
TABLE_BASE_MAX: Final = 2**31 - 1  # leaves room for table_base + ifindex in a 32-bit table id
FILTER_BACKENDS: Final = ("systemd-networkd", "NetworkManager", "dhclient", "kernel")


@dataclass(frozen=True)
class ListOf:
    item: Scalar
    expected: str  # completes "must be a list of ..."


@dataclass(frozen=True)
class Custom:
    """A key with its own parser; *kind*, *allowed* and *items* (the section each list item
    is) describe it for the reference; a *hidden* key is accepted but not documented."""

    parse: Callable[[Report, str, object], object]
    kind: str = "mapping"
    allowed: str = ""
    items: Section | None = None
    hidden: bool = False


@dataclass(frozen=True)
class Section:
    cls: Callable[..., object]
    fields: Mapping[str, Field]
    rename: Mapping[str, str] = dataclasses.field(default_factory=dict)
    aliases: frozenset[str] = frozenset()  # other names of documented keys


Field: TypeAlias = Scalar | ListOf | Custom | Section

_OMIT: Final = object()  # a key whose value is bad or ignored: the dataclass default stands


def _ignored_scripts(report: Report, path: str, value: object) -> object:
    report.warnings.append(
        f"{report.written(path)} is ignored; netevd runs the scripts of the event's directory"
    )
    return _OMIT


# --- the schema --------------------------------------------------------------------------------

_INTERFACES: Final = ListOf(interface_name, "interface names or globs")
_PATHS: Final = ListOf(absolute_path, "absolute paths")
_MATCH: Final = Section(
    core.FilterMatch,
    {
        "interface": interface_name,
        "interface_pattern": interface_name,
        "event_type": event_type,
        "ip_family": one_of(("ipv4", "ipv6", "any")),
        "backend": one_of(FILTER_BACKENDS),
        "condition": condition,
    },
)
_FILTER: Final = Section(
    core.Filter,
    {
        "match_rule": _MATCH,
        "match": _MATCH,
        "action": one_of(("execute", "ignore", "log")),
        "scripts": Custom(_ignored_scripts, hidden=True),
    },
    rename={"match_rule": "match"},
    aliases=frozenset({"match"}),
)


def _filters(report: Report, path: str, value: object) -> object:
    if value is None:
        return ()
    if not isinstance(value, list):
        report.error(path, f"must be a list of filters, got {show(value)}")
        return _OMIT
    result = []
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if isinstance(item, dict) and "match_rule" in item and "match" in item:
            report.error(item_path, "give match_rule or match, not both")
        parsed = _section(report, item_path, item, _FILTER)
        if parsed is not _OMIT:
            result.append(parsed)
    return tuple(result)


def _pinned_tables(report: Report, path: str, value: object) -> object:
    pinned, problems = pinned_tables(value)
    for where, message in problems:
        report.error(f"{path}{where}", message)
    return _OMIT if pinned is None else pinned


SCHEMA: Final = Section(
    Config,
    {
        "system": Section(
            core.SystemConfig,
            {
                "log_level": one_of(core.LOG_LEVELS, {"warning": "warn"}),
                "backend": one_of(core.BACKENDS),
                "script_dirs": _PATHS,
                "user": user_name,
                "state_dir": absolute_path,
                "netlink_rcvbuf": integer(4096, 1 << 30),
            },
        ),
        "scripts": Section(
            core.ScriptsConfig,
            {
                "timeout": seconds(zero_allowed=False),
                "max_parallel": integer(1, 1024),
                "routes_debounce_ms": integer(0, 60000),
                "run_startup_triggers": boolean,
                "shutdown_grace": seconds(zero_allowed=True),
                "stdin_json": boolean,
            },
        ),
        "monitoring": Section(
            core.MonitoringConfig,
            {
                "interfaces": _INTERFACES,
                "exclude": _INTERFACES,
                "link_local": boolean,
                "routes": one_of(core.ROUTES_MODES),
                "route_tables": ListOf(route_table, "table numbers"),
                "gateway_liveness": boolean,
                "neighbors": ListOf(neighbour_address, "addresses or networks"),
                "gateway_liveness_cleanup": boolean,
            },
        ),
        "routing": Section(
            core.RoutingConfig,
            {
                "policy_rules": _INTERFACES,
                "table_base": integer(1, TABLE_BASE_MAX),
                "to_rules": boolean,
                "tables": Custom(
                    _pinned_tables,
                    allowed="interface name: table (1-252 or 256-4294967295), each table once",
                ),
                # `to` rules take priority + 1, and both must stay in front of main (32766)
                "priority": integer(1, 32764),
                "cleanup_on_exit": boolean,
            },
        ),
        "backends": Section(
            core.BackendsConfig,
            {
                "systemd_networkd": Section(core.NetworkdConfig, {"emit_json": boolean}),
                "dhclient": Section(
                    core.DhclientConfig,
                    {
                        "use_dns": boolean,
                        "use_domain": boolean,
                        "use_hostname": boolean,
                        "lease_paths": _PATHS,
                    },
                ),
                "networkmanager": Section(core.NetworkManagerConfig, {}),
            },
        ),
        "api": Section(
            core.ApiConfig,
            {
                "enabled": boolean,
                "bind_address": bind_address,
                "port": port_number,
                "token": api_token,
                "token_file": optional_path,
                "socket": optional_path,
                "allowed_hosts": ListOf(host_name, "host names or addresses"),
                "max_connections": integer(MIN_CONNECTIONS, 65536),
                "max_streams": integer(1, 4096),
                "header_timeout": seconds(zero_allowed=False),
            },
        ),
        "metrics": Section(core.MetricsConfig, {"enabled": boolean}),
        "filters": Custom(
            _filters, kind="list of filters", allowed="filters (below)", items=_FILTER
        ),
        "compat": Section(
            core.CompatConfig,
            {
                "networkd_dispatcher": boolean,
                "networkd_dispatcher_dirs": _PATHS,
                "nm_dispatcher": boolean,
                "nm_dispatcher_dirs": _PATHS,
            },
        ),
    },
)


# --- walking the data against the schema -----------------------------------------------------


def _section(report: Report, path: str, value: object, section: Section) -> object:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        report.error(path, f"must be a mapping, got {show(value)}")
        return _OMIT
    kwargs: dict[str, object] = {}
    for key, item in value.items():
        key_path = f"{path}.{key}" if path else str(key)
        spec = section.fields.get(key) if isinstance(key, str) else None
        if spec is None:
            report.unknown(key_path, section.fields)
            continue
        parsed = _field(report, key_path, item, spec)
        if parsed is not _OMIT:
            kwargs[section.rename.get(str(key), str(key))] = parsed
    return section.cls(**kwargs)


def _field(report: Report, path: str, value: object, spec: Field) -> object:
    if isinstance(spec, Section):
        return _section(report, path, value, spec)
    if isinstance(spec, Custom):
        return spec.parse(report, path, value)
    if isinstance(spec, ListOf):
        return _list(report, path, value, spec)
    try:
        return spec(value)
    except Invalid as exc:
        report.error(path, str(exc))
        return _OMIT


def _list(report: Report, path: str, value: object, spec: ListOf) -> object:
    if not isinstance(value, list):
        report.error(path, f"must be a list of {spec.expected}, got {show(value)}")
        return _OMIT
    items = []
    for index, item in enumerate(value):
        try:
            items.append(spec.item(item))
        except Invalid as exc:
            report.error(f"{path}[{index}]", str(exc))
    return tuple(items) if len(items) == len(value) else _OMIT


def read_schema(report: Report, data: dict[object, object]) -> Config:
    """The Config *data* describes (defaults where a value was bad; *report* says which)."""
    config = _section(report, "", data, SCHEMA)
    return config if isinstance(config, Config) else Config()
