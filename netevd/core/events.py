"""Events: what sources and executors put on the engine's queue (frozen, past tense)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from netevd.core.actions import PendingRun
from netevd.core.config import Config
from netevd.core.model import Addr, Lease, Link, Neigh, Route, Rule
from netevd.core.names import BUS_NAMES as BUS_NAMES
from netevd.core.names import DHCLIENT as DHCLIENT
from netevd.core.names import KERNEL as KERNEL
from netevd.core.names import NETLINK as NETLINK
from netevd.core.names import NETWORKD as NETWORKD
from netevd.core.names import NETWORKMANAGER as NETWORKMANAGER


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """RTM_NEWLINK: a link appeared or changed (flags, name, MTU, ...)."""

    link: Link


@dataclass(frozen=True, slots=True)
class LinkRemoved:
    index: int


@dataclass(frozen=True, slots=True)
class AddressAdded:
    addr: Addr


@dataclass(frozen=True, slots=True)
class AddressRemoved:
    addr: Addr


@dataclass(frozen=True, slots=True)
class RouteAdded:
    route: Route


@dataclass(frozen=True, slots=True)
class RouteRemoved:
    route: Route


@dataclass(frozen=True, slots=True)
class RuleAdded:
    rule: Rule


@dataclass(frozen=True, slots=True)
class RuleRemoved:
    rule: Rule


@dataclass(frozen=True, slots=True)
class NeighbourChanged:
    """RTM_NEWNEIGH of an entry netevd keeps (gateway liveness)."""

    neigh: Neigh


@dataclass(frozen=True, slots=True)
class NeighbourRemoved:
    neigh: Neigh


@dataclass(frozen=True, slots=True)
class KernelSnapshot:
    """A full dump. At startup it is the replay; after an overrun, a resync.

    The engine turns it into the granular events that take the state to the snapshot, so a
    resync fires exactly the scripts the missed messages would have fired.
    """

    links: tuple[Link, ...]
    addrs: tuple[Addr, ...]
    routes: tuple[Route, ...]
    rules: tuple[Rule, ...]
    reason: str = "startup"  # "startup" | "resync"


Properties = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ManagerLinkChanged:
    """A network manager (systemd-networkd) reported new property values for a link.

    *properties* holds what the signal said (already type-checked strings); *describe* is the
    manager's own JSON description of the link when the source fetched it ("" otherwise).
    """

    source: str
    index: int
    properties: Properties
    describe: str = ""


@dataclass(frozen=True, slots=True)
class ManagerLinkRemoved:
    source: str
    index: int


@dataclass(frozen=True, slots=True)
class ManagerChanged:
    """Manager-level properties (networkd's Manager object) changed."""

    source: str
    properties: Properties


@dataclass(frozen=True, slots=True)
class VpnChanged:
    """NetworkManager reported new property values for a VPN connection: the active connection
    ``ActiveConnection/<number>`` whose ``Vpn`` is true. Its ``VpnState`` is the one its own
    ``VpnStateChanged`` signal gave (never a re-read); see netevd.sources.networkmanager.vpns."""

    source: str
    number: int
    properties: Properties


@dataclass(frozen=True, slots=True)
class VpnRemoved:
    """The VPN connection's active connection is gone from NetworkManager's bus."""

    source: str
    number: int


@dataclass(frozen=True, slots=True)
class ManagerSnapshot:
    """Everything a manager reports, read after (re)connecting: replayed like a kernel dump."""

    source: str
    links: tuple[tuple[int, Properties, str], ...]  # (index, properties, describe)
    manager: Properties = ()
    vpns: tuple[tuple[int, Properties], ...] = ()  # NetworkManager: (number, properties)


@dataclass(frozen=True, slots=True)
class RoutesSnapshot:
    """Every route, re-read because the kernel flushes some without saying so (an IPv4
    address removed, a link set down). The engine turns the difference into route events."""

    routes: tuple[Route, ...]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A source came up (initial dump done), went down, or reconnected."""

    source: str
    up: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ConfigReloaded:
    config: Config


@dataclass(frozen=True, slots=True)
class TablesAssigned:
    """The policy-routing tables in effect (read from system.state_dir at start, or just
    written there): interface name -> table."""

    tables: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class RoutingApplied:
    """What the routing executor did to make the kernel match the plan."""

    added_rules: int = 0
    removed_rules: int = 0
    added_routes: int = 0
    removed_routes: int = 0
    readded: int = 0  # objects it had installed before and found missing (someone removed them)
    errors: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()  # EEXIST, and the route in the way is not netevd's


@dataclass(frozen=True, slots=True)
class ScriptFinished:
    """An executor's report: one script ran (or failed to start, or timed out)."""

    seq: int
    directory: str
    link_index: int
    link_name: str
    script: str
    exit_code: int | None  # None: killed on timeout or could not start
    duration: float
    timed_out: bool = False
    error: str = ""
    output: str = ""  # the tail of stdout+stderr, bounded


@dataclass(frozen=True, slots=True)
class RunDropped:
    """A queued run was superseded by a newer state of the same link and directory."""

    seq: int
    directory: str
    link_index: int
    link_name: str
    superseded_by: int


@dataclass(frozen=True, slots=True)
class ServiceCalled:
    """What a call to systemd-resolved or hostnamed came to (the name-service executor's
    report): *ok*, or the D-Bus error name and its text."""

    service: str  # resolved | hostnamed
    call: str  # SetLinkDNS | SetLinkDomains | RevertLink | SetHostname
    link_index: int  # 0 for hostnamed
    ok: bool
    error: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class QuietWindowEnded:
    """A pending run's quiet window ended (the script executor's timer): the engine completes
    *run* with the picture of this moment and hands it back to be run."""

    run: PendingRun


LostReason = Literal["expired", "released", "file-removed", "no-longer-listed"]


@dataclass(frozen=True, slots=True)
class LeaseChanged:
    """An interface's current lease is new or changed in something scripts care about."""

    interface: str
    lease: Lease
    previous: Lease | None = None
    replay: bool = False  # part of the source's startup snapshot


@dataclass(frozen=True, slots=True)
class LeaseLost:
    """An interface no longer has a current lease of *family*."""

    interface: str
    reason: LostReason
    family: Literal[4, 6] = 4
    previous: Lease | None = None


LeaseEvent = LeaseChanged | LeaseLost
KernelEvent = (
    LinkChanged
    | LinkRemoved
    | AddressAdded
    | AddressRemoved
    | RouteAdded
    | RouteRemoved
    | RuleAdded
    | RuleRemoved
    | NeighbourChanged
    | NeighbourRemoved
)
ManagerEvent = ManagerLinkChanged | ManagerLinkRemoved | ManagerChanged | VpnChanged | VpnRemoved
Event = (
    KernelEvent
    | KernelSnapshot
    | RoutesSnapshot
    | ManagerEvent
    | ManagerSnapshot
    | SourceStatus
    | ConfigReloaded
    | TablesAssigned
    | RoutingApplied
    | ScriptFinished
    | RunDropped
    | QuietWindowEnded
    | LeaseChanged
    | LeaseLost
    | ServiceCalled
)


@dataclass(frozen=True, slots=True)
class Context:
    """What the engine knows about the event being handled (assigned, not decoded)."""

    seq: int
    ts: float  # wall-clock seconds, for documents shown to users
    replay: bool = False  # part of the startup replay
    resync: bool = False  # part of an overrun re-dump
    source: str = KERNEL
    # Directories of netevd's tree that held no entry at start: a replay run of one of them is
    # not built (netevd.core.runs.unscripted_replay), as it would run nothing.
    unscripted: frozenset[str] = frozenset()
