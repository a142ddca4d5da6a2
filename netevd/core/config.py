"""The effective configuration: frozen dataclasses with their defaults (design.md §4).

Parsing and validation from YAML/TOML/environment live in netevd.config; this module only
defines the shape so that the pure core can read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from netevd.core.trees import Tree

LogLevel = Literal["trace", "debug", "info", "warn", "error"]
Backend = Literal["systemd-networkd", "NetworkManager", "dhclient", "none", "auto"]
FilterAction = Literal["execute", "ignore", "log"]
IpFamily = Literal["ipv4", "ipv6", "any"]
RoutesMode = Literal["all", "tables", "none"]

LOG_LEVELS: tuple[LogLevel, ...] = ("trace", "debug", "info", "warn", "error")
BACKENDS: tuple[Backend, ...] = ("systemd-networkd", "NetworkManager", "dhclient", "none", "auto")
ROUTES_MODES: tuple[RoutesMode, ...] = ("all", "tables", "none")


@dataclass(frozen=True, slots=True)
class SystemConfig:
    log_level: LogLevel = "info"
    backend: Backend = "auto"
    script_dirs: tuple[str, ...] = ("/etc/netevd", "/usr/lib/netevd")
    user: str = "netevd"
    state_dir: str = "/var/lib/netevd"
    # bytes, per socket; a route storm waits here while netevd reads (an overrun re-dumps)
    netlink_rcvbuf: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScriptsConfig:
    timeout: float = 30.0  # seconds per script, then its process group is killed
    max_parallel: int = 8  # interfaces whose scripts may run at the same time
    routes_debounce_ms: int = 200
    run_startup_triggers: bool = True
    shutdown_grace: float = 10.0  # seconds running scripts get to finish on SIGTERM
    stdin_json: bool = False  # also give NETEVD_JSON's document on each script's stdin


@dataclass(frozen=True, slots=True)
class MonitoringConfig:
    interfaces: tuple[str, ...] = ()  # names or globs; empty = all
    exclude: tuple[str, ...] = ("lo",)
    link_local: bool = False  # address-added.d / address-removed.d for link-local addresses too
    # Which routes are followed (netevd.core.follow): every one, or only what netevd's own
    # features need plus the tables listed in route_tables.
    routes: RoutesMode = "all"
    route_tables: tuple[int, ...] = ()
    # A managed neighbour entry per monitored link's gateway, kept resolved by the kernel's own
    # probes: gateway.d EVENT=unreachable / reachable / lladdr-changed (netevd.core.react.liveness)
    gateway_liveness: bool = False
    gateway_liveness_cleanup: bool = True  # remove netevd's entries when it stops
    neighbors: tuple[str, ...] = ()  # addresses or networks whose NUD changes run neighbor.d


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    policy_rules: tuple[str, ...] = ()  # interface names or globs that get policy routing
    table_base: int = 200  # table = table_base + ifindex, reserved and foreign tables skipped
    to_rules: bool = True  # also `to ADDR lookup T`, not only `from ADDR lookup T`
    tables: tuple[tuple[str, int], ...] = ()  # pinned tables: (interface, table)
    priority: int = 30000  # `from` rules; `to` rules get priority + 1; main is at 32766
    cleanup_on_exit: bool = False  # keep rules across a restart so traffic keeps flowing


@dataclass(frozen=True, slots=True)
class NetworkdConfig:
    emit_json: bool = True


@dataclass(frozen=True, slots=True)
class DhclientConfig:
    use_dns: bool = False
    use_domain: bool = False
    use_hostname: bool = False
    lease_paths: tuple[str, ...] = ("/var/lib/dhcp", "/var/lib/dhclient")


@dataclass(frozen=True, slots=True)
class NetworkManagerConfig:
    pass


@dataclass(frozen=True, slots=True)
class BackendsConfig:
    systemd_networkd: NetworkdConfig = field(default_factory=NetworkdConfig)
    dhclient: DhclientConfig = field(default_factory=DhclientConfig)
    networkmanager: NetworkManagerConfig = field(default_factory=NetworkManagerConfig)


@dataclass(frozen=True, slots=True)
class CompatConfig:
    """Running the scripts of the tools netevd replaces, unchanged (docs/migration.md)."""

    networkd_dispatcher: bool = False
    networkd_dispatcher_dirs: tuple[str, ...] = (
        "/etc/networkd-dispatcher",
        "/usr/lib/networkd-dispatcher",
    )
    nm_dispatcher: bool = False
    nm_dispatcher_dirs: tuple[str, ...] = (
        "/etc/NetworkManager/dispatcher.d",
        "/usr/lib/NetworkManager/dispatcher.d",
    )

    def trees(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The dispatchers' trees that are on, each with its base directories."""
        trees = (
            (
                Tree.NETWORKD_DISPATCHER.value,
                self.networkd_dispatcher_dirs,
                self.networkd_dispatcher,
            ),
            (Tree.NM_DISPATCHER.value, self.nm_dispatcher_dirs, self.nm_dispatcher),
        )
        return tuple((tree, dirs) for tree, dirs, on in trees if on)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    enabled: bool = True
    bind_address: str = "127.0.0.1"
    port: int = 9090
    token: str = ""  # bearer token for mutating endpoints when bound beyond loopback
    token_file: str = ""  # absolute path of a file holding that token (instead of token)
    socket: str = ""  # absolute path of an extra unix socket to serve the API on
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides the bound address/localhost
    max_connections: int = 256  # open API connections (also kept below the NOFILE reserve)
    max_streams: int = 32  # event-stream (SSE) clients at a time
    header_timeout: float = 10.0  # seconds a new connection has to send its request


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class FilterMatch:
    """All given fields must match (AND); a field left None matches anything."""

    interface: str | None = None
    interface_pattern: str | None = None  # glob: * and ?
    event_type: str | None = None  # the state directory without .d: routable, carrier, routes
    ip_family: IpFamily | None = None
    backend: str | None = None
    condition: str | None = None  # has_gateway, dns_count >= N, interface == "x"; && and ||


@dataclass(frozen=True, slots=True)
class Filter:
    match: FilterMatch = field(default_factory=FilterMatch)
    action: FilterAction = "execute"


@dataclass(frozen=True, slots=True)
class Config:
    system: SystemConfig = field(default_factory=SystemConfig)
    scripts: ScriptsConfig = field(default_factory=ScriptsConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    backends: BackendsConfig = field(default_factory=BackendsConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    filters: tuple[Filter, ...] = ()
    compat: CompatConfig = field(default_factory=CompatConfig)
