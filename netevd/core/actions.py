"""Actions: what reactions decide and executors carry out (frozen, imperative)."""

from __future__ import annotations

from dataclasses import dataclass

from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.model import Route, Rule
from netevd.core.trees import DispatcherAction, Tree

Env = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RunScripts:
    """Run every script of ``<directory>.d`` for one link (index 0: manager-level).

    *tree* says whose scripts (netevd.core.trees.Tree): netevd's own, or those of a tool netevd
    stands in for (``compat:``), found the way that tool finds them and started with *args*.

    *env* is the event's validated environment (PATH, LANG and TZ are the executor's). Values
    that failed validation are not in it; they are listed in *dropped* as (variable, reason) so
    the executor can warn. A run is complete: the executor queues it as it is (a run that
    waits for a quiet window first is a PendingRun).
    """

    directory: Directory | DispatcherAction  # DispatcherAction for the nm-dispatcher tree only
    link_index: int
    link_name: str
    env: Env
    seq: int
    replay: bool = False
    dropped: tuple[tuple[str, str], ...] = ()
    event_ts: float = 0.0
    # Values too large for one environment string (Linux caps one at 128 KiB): the executor
    # writes each to a private file and passes its path in the named variable instead.
    files: tuple[tuple[str, str], ...] = ()
    tree: Tree = Tree.NETEVD
    args: tuple[str, ...] = ()  # argv after the script's path (NetworkManager's: iface, action)
    # False: a startup replay run of a directory that held no entry at start, kept so that the
    # event's record and the metrics show it fired, but with no environment: it runs nothing.
    built: bool = True

    def env_dict(self) -> dict[str, str]:
        return dict(self.env)


@dataclass(frozen=True, slots=True)
class PendingRun:
    """A run of *directory* for one link that waits for the link's quiet window (routes.d and
    the address, mtu and gateway hooks): the script executor keeps the newest per link and
    directory, and once none came for the window it reports ``QuietWindowEnded``; the step then
    builds the RunScripts with the picture of that moment (netevd.core.react.pending).

    *event* is the EVENT word of the change that made it; *values* are the hook's own variables
    (ADDRESS, MTU_OLD, GATEWAY, ...), laid over the link's picture.
    """

    directory: Directory
    link_index: int
    link_name: str
    event: str
    seq: int
    values: Env = ()
    replay: bool = False
    event_ts: float = 0.0


@dataclass(frozen=True, slots=True)
class RejectLink:
    """A link whose name fails validation: no scripts run for it; logged once and counted."""

    index: int
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class SkipUnknownState:
    """A backend reported a state netevd has no directory for: logged and counted, never run."""

    source: str
    link_index: int
    value: str


@dataclass(frozen=True, slots=True)
class ReconcileRouting:
    """Make netevd's own rules and routes in the kernel exactly these (the latest plan wins)."""

    rules: frozenset[Rule]
    routes: frozenset[Route]


@dataclass(frozen=True, slots=True)
class ManageNeighbours:
    """Make netevd's own managed neighbour entries (protocol 78) exactly these (ifindex,
    family, address); the latest wins (monitoring.gateway_liveness)."""

    entries: frozenset[tuple[int, int, str]]


@dataclass(frozen=True, slots=True)
class AssignTables:
    """Record (persist) the policy-routing tables; *moved* names those not at base+ifindex."""

    tables: tuple[tuple[str, int], ...]
    moved: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Note:
    """Something the core wants logged (a ``log`` filter matched, say)."""

    message: str
    warning: bool = False  # logged as a warning rather than as information


@dataclass(frozen=True, slots=True)
class PushLinkDns:
    """systemd-resolved: these DNS servers (and search domains, when given) for the link."""

    link_index: int
    link_name: str
    servers: tuple[str, ...] | None  # None: leave the servers alone
    domains: tuple[str, ...] | None  # None: leave the domains alone


@dataclass(frozen=True, slots=True)
class RevertLinkDns:
    """systemd-resolved: forget what was pushed for the link (its lease is gone; *gone*: the
    link itself is gone, so only netevd's own memory of it is dropped)."""

    link_index: int
    link_name: str
    gone: bool = False


@dataclass(frozen=True, slots=True)
class PushHostname:
    """hostnamed: the transient host name a lease gave."""

    name: str


@dataclass(frozen=True, slots=True)
class Ready:
    """Every required source has given its first picture: tell the service manager."""

    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConfigApplied:
    """A new configuration is in force: executors and logging take its settings."""

    config: Config


Action = (
    RunScripts
    | PendingRun
    | RejectLink
    | SkipUnknownState
    | Note
    | ReconcileRouting
    | ManageNeighbours
    | AssignTables
    | Ready
    | ConfigApplied
    | PushLinkDns
    | RevertLinkDns
    | PushHostname
)
