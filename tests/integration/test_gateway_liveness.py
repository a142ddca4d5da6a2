"""Gateway liveness on the real kernel (monitoring.gateway_liveness): a managed neighbour entry
for the host's gateway, kept resolved by the kernel's own probes; gateway.d runs unreachable
when the router stops answering with the carrier up, reachable when it answers again,
lladdr-changed when its MAC changes; netevd's entries go when it stops, nothing else does.
And neighbor.d for the neighbours listed in monitoring.neighbors, never for the others.

The host's neighbour timers are shortened (in its own namespace) so a dead router is seen in
seconds, not the default's up to a minute (docs/policy-routing.md, "Gateway liveness")."""

from typing import Any

from lab import host_peer, wait_until
from lab.netevd import Daemon, ScriptDirs

GATEWAY = "10.231.90.254"
FOREIGN = "10.231.90.77"  # a permanent entry of someone else's: never touched
FAST_NEIGH = {"base_reachable_time_ms": "1000", "delay_first_probe_time": "1"}
TIMEOUT = 90.0  # seconds: a deadline; an entry REACHABLE before the short timers may keep its draw


def entry(neighbours: list[dict[str, Any]], address: str) -> dict[str, Any] | None:
    return next((n for n in neighbours if n.get("dst") == address), None)


async def shown(daemon: Daemon, *, reachable: bool) -> None:
    """The API's gateway.reachable and the metric say *reachable*, read from the snapshot."""
    sample = f'netevd_gateway_reachable{{link="eth0"}} {float(reachable)}'

    async def says() -> bool:
        link = await daemon.http.data("/api/v1/interfaces/eth0")
        status = await daemon.http.data("/api/v1/status")
        metrics = (await daemon.http.text("/metrics")).splitlines()
        return (
            link["gateway_reachable"] is reachable
            and status["gateways"] == {"eth0": reachable}
            and sample in metrics
        )

    await wait_until(says, timeout=10, message=f"the API and /metrics show reachable={reachable}")


async def test_a_silent_router_is_unreachable_then_reachable_and_its_new_mac_seen(
    lab, netevd, tmp_path
):
    built = await lab(host_peer(["10.231.90.1/24"], [f"{GATEWAY}/24"], gateway=GATEWAY))
    for name, value in {**FAST_NEIGH, "interval_probe_time_ms": "1000"}.items():
        await built.run("host", "sysctl", "-qw", f"net.ipv4.neigh.eth0.{name}={value}")
    # the router announces a new MAC (gratuitous ARP), as a VRRP failover does
    await built.run("peer", "sysctl", "-qw", "net.ipv4.conf.eth0.arp_notify=1")
    await built.run(
        "host", "ip", "neigh", "add", FOREIGN, "lladdr", "02:00:00:00:00:77", "dev", "eth0"
    )
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("gateway")
    daemon = await netevd(built, scripts, api=True, monitoring={"gateway_liveness": True})

    async def managed() -> dict[str, Any] | None:
        found = entry(await built.ip_json("host", "-d", "neigh", "show", "dev", "eth0"), GATEWAY)
        return found if found and found.get("protocol") == "78" and "managed" in found else None

    await wait_until(managed, timeout=10)
    await built.run("peer", "ip", "link", "set", "dev", "eth0", "arp", "off")  # carrier stays up
    (down,) = await scripts.wait_for(STATE="gateway", EVENT="unreachable", timeout=TIMEOUT)
    assert (down.env["GATEWAY"], down.env["FAMILY"], down.env["NEIGH_STATE"]) == (
        GATEWAY,
        "inet",
        "failed",
    )
    await shown(daemon, reachable=False)
    await built.run("peer", "ip", "link", "set", "dev", "eth0", "arp", "on")
    (up,) = await scripts.wait_for(STATE="gateway", EVENT="reachable", timeout=TIMEOUT)
    await shown(daemon, reachable=True)
    assert (up.env["GATEWAY"], up.env["NEIGH_STATE"]) == (GATEWAY, "reachable")
    old_mac = up.env["LLADDR"]
    # gateway.d ran nothing while the router answered: the first run was the failure, once
    assert [r.env["EVENT"] for r in scripts.runs()] == ["unreachable", "reachable"]

    await built.run("peer", "ip", "link", "set", "dev", "eth0", "address", "02:00:00:00:00:99")
    (moved,) = await scripts.wait_for(STATE="gateway", EVENT="lladdr-changed", timeout=TIMEOUT)
    assert (moved.env["LLADDR"], moved.env["LLADDR_OLD"]) == ("02:00:00:00:00:99", old_mac)

    await daemon.proc.stop()
    left = await built.ip_json("host", "-d", "neigh", "show", "dev", "eth0")
    assert [n for n in left if n.get("protocol") == "78"] == []
    foreign = entry(left, FOREIGN)
    assert foreign is not None
    assert (foreign["lladdr"], foreign["state"]) == ("02:00:00:00:00:77", ["PERMANENT"])


async def test_an_ipv6_gateway_whose_address_goes_is_unreachable_then_reachable(
    lab, netevd, tmp_path
):
    gateway6 = "fd00:231:91::fe"
    built = await lab(host_peer(["fd00:231:91::1/64"], [f"{gateway6}/64"], gateway=gateway6))
    for name, value in {**FAST_NEIGH, "interval_probe_time_ms": "1000"}.items():
        await built.run("host", "sysctl", "-qw", f"net.ipv6.neigh.eth0.{name}={value}")
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("gateway")
    await netevd(built, scripts, monitoring={"gateway_liveness": True})

    async def managed() -> dict[str, Any] | None:
        found = entry(await built.ip_json("host", "-6", "-d", "neigh", "show"), gateway6)
        return found if found and found.get("protocol") == "78" else None

    await wait_until(managed, timeout=10)
    # the router's address goes (its link and carrier stay): NDP solicitations go unanswered
    await built.run("peer", "ip", "addr", "del", f"{gateway6}/64", "dev", "eth0")
    (down,) = await scripts.wait_for(STATE="gateway", EVENT="unreachable", timeout=TIMEOUT)
    assert (down.env["GATEWAY"], down.env["FAMILY"]) == (gateway6, "inet6")
    await built.run("peer", "ip", "addr", "add", f"{gateway6}/64", "dev", "eth0", "nodad")
    (up,) = await scripts.wait_for(STATE="gateway", EVENT="reachable", timeout=TIMEOUT)
    assert (up.env["GATEWAY"], up.env["NEIGH_STATE"]) == (gateway6, "reachable")
    assert [r.env["EVENT"] for r in scripts.runs()] == ["unreachable", "reachable"]


async def test_neighbor_d_runs_for_a_listed_neighbour_and_never_for_an_unlisted_one(
    lab, netevd, tmp_path
):
    built = await lab(host_peer(["10.231.93.1/24"], ["10.231.93.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("neighbor")
    await netevd(built, scripts, monitoring={"neighbors": ["10.231.93.7", "10.231.93.64/26"]})
    mac = ("lladdr", "02:00:00:00:00:07", "dev", "eth0")
    await built.run("host", "ip", "neigh", "add", "10.231.93.7", *mac, "nud", "permanent")
    (added,) = await scripts.wait_for(STATE="neighbor", NEIGH_STATE="permanent")
    assert (added.env["NEIGH_ADDRESS"], added.env["NEIGH_STATE_OLD"]) == ("10.231.93.7", "none")
    assert added.env["LLADDR"] == "02:00:00:00:00:07"
    for unlisted in ("10.231.93.8", "10.231.93.9"):  # churn nobody asked for
        await built.run("host", "ip", "neigh", "add", unlisted, *mac, "nud", "stale")
        await built.run("host", "ip", "neigh", "del", unlisted, "dev", "eth0")
    await built.run("host", "ip", "neigh", "replace", "10.231.93.70", *mac, "nud", "reachable")
    await built.run("host", "ip", "neigh", "replace", "10.231.93.70", *mac, "nud", "stale")
    (stale,) = await scripts.wait_for(STATE="neighbor", NEIGH_STATE="stale")
    assert (stale.env["NEIGH_ADDRESS"], stale.env["NEIGH_STATE_OLD"]) == (
        "10.231.93.70",
        "reachable",
    )
    await built.run("host", "ip", "neigh", "del", "10.231.93.7", "dev", "eth0")
    (gone,) = await scripts.wait_for(STATE="neighbor", NEIGH_STATE="removed")
    # the kernel marks a deleted entry FAILED, then removes it; the failed run, queued behind
    # the running one, may be superseded by the removal's (the newest run of a link wins)
    assert gone.env["NEIGH_STATE_OLD"] in ("permanent", "failed")
    assert sorted({r.env["NEIGH_ADDRESS"] for r in scripts.runs()}) == [
        "10.231.93.7",
        "10.231.93.70",
    ]
