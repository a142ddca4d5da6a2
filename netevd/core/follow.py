"""Which routes netevd follows: ``monitoring.routes`` and ``monitoring.route_tables`` (pure).

A router with a full table (FRR or BIRD install about a million routes into main) keeps netevd
busy with routes no script and no feature of it looks at. ``all`` (the default) follows every
route of every table, as netevd always did. ``none`` follows only what netevd's own features
read: default routes (``GATEWAY``, ``gateway.d``, policy routing's default route), on-link
routes the kernel adds for addresses (proto kernel: the "route out" of the kernel-derived
``routable`` state) and netevd's own routes (proto 78); table local is left out. ``tables``
follows that plus every route of the tables listed in ``route_tables``. With policy routing
configured, every route outside tables main, local and default is followed too, so a table
someone else uses is still seen and skipped.

The kernel drops the rest before netevd reads it (netevd.kernel.bpf builds the socket filter
from this spec); the same rule, :meth:`RouteFollow.keeps`, is applied to dumps and to
anything the socket filter lets through, so it alone decides what the state holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from netevd.core.config import Config, RoutesMode
from netevd.core.model import (
    RT_TABLE_DEFAULT,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTPROT_NETEVD,
    Route,
)

RTPROT_KERNEL = 2
ESSENTIAL_PROTOCOLS = frozenset({RTPROT_KERNEL, RTPROT_NETEVD})
SHARED_TABLES = frozenset({RT_TABLE_DEFAULT, RT_TABLE_MAIN, RT_TABLE_LOCAL})


@dataclass(frozen=True, slots=True)
class RouteFollow:
    mode: RoutesMode = "all"
    tables: frozenset[int] = frozenset()  # followed in full (mode "tables")
    other_tables: bool = False  # every table but main, local and default (policy routing)

    @property
    def everything(self) -> bool:
        return self.mode == "all"

    def keeps(self, route: Route) -> bool:
        """Whether *route* is followed."""
        if self.mode == "all" or route.table in self.tables:
            return True
        if self.other_tables and route.table not in SHARED_TABLES:
            return True
        return route.table != RT_TABLE_LOCAL and (
            route.is_default or route.protocol in ESSENTIAL_PROTOCOLS
        )

    def describe(self) -> dict[str, object]:
        """What is followed, in words (``/api/v1/status``, the start-up log line)."""
        if self.mode == "all":
            return {"mode": "all", "tables": [], "followed": "every route of every table"}
        followed = (
            "default routes, on-link routes (proto kernel) and netevd's own (proto 78), "
            "outside table local"
        )
        if self.tables:
            followed += "; every route of tables " + ", ".join(map(str, sorted(self.tables)))
        if self.other_tables:
            followed += "; every route outside tables main, local and default (policy routing)"
        return {"mode": self.mode, "tables": sorted(self.tables), "followed": followed}


def route_follow(config: Config) -> RouteFollow:
    """The spec *config* asks for."""
    monitoring = config.monitoring
    if monitoring.routes == "all":
        return RouteFollow()
    tables = frozenset(monitoring.route_tables) if monitoring.routes == "tables" else frozenset()
    return RouteFollow(monitoring.routes, tables, bool(config.routing.policy_rules))
