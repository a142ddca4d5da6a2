"""monitoring.routes on the real kernel: the socket filter keeps what netevd does not follow in
the kernel, and the daemon's state, API and routes.d see exactly the followed routes."""

import socket

from lab import host_peer, wait_until
from lab.http import socket_in_netns
from lab.netevd import ScriptDirs
from netevd.core.events import RouteAdded
from netevd.core.follow import RouteFollow
from netevd.kernel import rtnl
from netevd.kernel.bpf import route_filter
from netevd.kernel.rtnl import GROUPS
from netevd.kernel.wire import decode_all

TOPOLOGY = host_peer(["10.232.1.1/24"], ["10.232.1.2/24"])
GATEWAY = "10.232.1.2"
# (table, protocol, destination) of routes a full-table router would carry
FILTERED = [
    ("main", "bgp", "10.90.1.0/24"),
    ("main", "zebra", "10.90.2.0/24"),
    ("300", "static", "10.90.3.0/24"),
    ("1000", "bird", "10.90.4.0/24"),
]
KEPT = [
    ("main", "bgp", "default"),  # a default route: GATEWAY, gateway.d, policy routing
    ("100", "static", "10.91.1.0/24"),  # a listed table
    ("70000", "bgp", "10.91.2.0/24"),  # a listed table above 255 (RTA_TABLE)
]
FOLLOW = {"routes": "tables", "route_tables": [100, 70000]}


async def add_routes(built, routes):
    for table, proto, dst in routes:
        await built.run(
            "host", "ip", "route", "add", dst, "via", GATEWAY, "table", table, "proto", proto
        )


async def test_the_kernel_filter_drops_unfollowed_routes_and_delivers_the_rest(lab):
    built = await lab(TOPOLOGY)
    sock = socket_in_netns(built.ns("host"), socket.AF_NETLINK, socket.SOCK_RAW, 0)
    try:
        sock.setblocking(False)
        sock.bind((0, GROUPS))
        follow = RouteFollow("tables", frozenset({100, 70000}))
        rtnl.attach_filter(sock, route_filter(follow))
        await add_routes(built, FILTERED + KEPT)
        seen: list = []

        def read() -> None:
            # IPv4 only: the routes added here are; the kernel's own fe80::/64 in main (kept, as
            # every main-table route of proto kernel) comes whenever the link's IPv6 wakes up.
            for data in rtnl.read_ready(sock, 256):
                added = (e.route for _, e in decode_all(data) if isinstance(e, RouteAdded))
                seen.extend(r for r in added if ":" not in r.dst)

        def delivered():
            read()
            return len(seen) >= len(KEPT)

        await wait_until(delivered, timeout=5)
        got = sorted((r.table, r.dst) for r in seen)
        # The kept routes arrive; every filtered one was added before the last kept one, and
        # the socket delivers in order: had the kernel let one through, it would be here.
        assert got == sorted([(254, "0.0.0.0/0"), (100, "10.91.1.0/24"), (70000, "10.91.2.0/24")])
        read()
        assert len(seen) == len(KEPT)
    finally:
        sock.close()


async def test_the_daemon_follows_only_what_monitoring_routes_asks(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("routes")
    daemon = await netevd(built, scripts, api=True, monitoring=FOLLOW)
    await add_routes(built, FILTERED + KEPT)
    api = daemon.http

    async def followed():
        routes = await api.data("/api/v1/routes")
        found = {(r["table"], r["dst"]) for r in routes if r["gateway"] == GATEWAY}
        return found if len(found) >= len(KEPT) else None

    found = await wait_until(followed, timeout=10)
    assert found == {(254, "0.0.0.0/0"), (100, "10.91.1.0/24"), (70000, "10.91.2.0/24")}
    # The on-link route of eth0's address is followed (proto kernel); table local is not.
    routes = await api.data("/api/v1/routes")
    assert any(r["dst"] == "10.232.1.0/24" and r["protocol_name"] == "kernel" for r in routes)
    assert not [r for r in routes if r["table"] == 255]
    status = await api.data("/api/v1/status")
    assert status["routes_followed"]["mode"] == "tables"
    assert status["routes_followed"]["tables"] == [100, 70000]
    assert "proto kernel" in status["routes_followed"]["followed"]
    # GATEWAY comes from the followed default route.
    runs = await scripts.wait_for(1, timeout=10, STATE="routes", LINK="eth0")
    assert runs[-1].env["GATEWAY"] == GATEWAY
