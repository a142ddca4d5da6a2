"""The lab's pieces for daemon tests: host_peer, running_netevd, the netevd fixture, NsApi."""

import asyncio

import aiohttp
import pytest

from lab import LabError, TopologyError, host_peer
from lab.http import NsApi, sse_messages
from lab.netevd import ScriptDirs, running_netevd


async def test_host_peer_builds_what_it_says(lab):
    built = await lab(
        host_peer(
            ["10.231.9.1/24", "fd00:231:9::1/64"],
            ["10.231.9.2/24"],
            gateway="10.231.9.2",
            eth1=True,
            host_eth1=["10.231.10.1/24"],
            peer_eth1=["10.231.10.2/24"],
        )
    )
    host = {e["ifname"]: e for e in await built.ip_json("host", "addr")}
    peer = {e["ifname"]: e for e in await built.ip_json("peer", "addr")}
    assert {n: e["ifindex"] for n, e in host.items()} == {"lo": 1, "eth0": 10, "eth1": 12}
    assert {n: e["ifindex"] for n, e in peer.items()} == {"lo": 1, "eth0": 11, "eth1": 13}

    def global_addresses(entry):
        return {a["local"] for a in entry["addr_info"] if a["scope"] == "global"}

    assert global_addresses(host["eth0"]) == {"10.231.9.1", "fd00:231:9::1"}
    assert global_addresses(host["eth1"]) == {"10.231.10.1"}
    assert global_addresses(peer["eth0"]) == {"10.231.9.2"}
    assert global_addresses(peer["eth1"]) == {"10.231.10.2"}
    (default,) = [r for r in await built.ip_json("host", "route") if r["dst"] == "default"]
    assert (default["gateway"], default["dev"]) == ("10.231.9.2", "eth0")
    assert [r for r in await built.ip_json("peer", "route") if r["dst"] == "default"] == []


def test_host_peer_refuses_addresses_for_a_second_pair_it_does_not_make():
    with pytest.raises(TopologyError, match="eth1=True"):
        host_peer(host_eth1=["10.231.10.1/24"])
    renamed = host_peer(link="eth1", index=54, peer_index=55)
    assert [(k.name, k.ns, k.index) for k in renamed.links] == [
        ("eth1", "host", 54),
        ("eth0", "peer", 55),
    ]


async def test_running_netevd_stops_the_daemon_when_the_body_raises(lab, tmp_path):
    built = await lab(host_peer())
    scripts = ScriptDirs(tmp_path / "scripts")
    seen = []

    async def failing_body():
        async with running_netevd(built, "host", tmp_path, scripts, api=True) as daemon:
            seen.append(daemon)
            assert daemon.proc.running
            assert daemon.config == tmp_path / "netevd.yaml"
            assert daemon.netns == built.ns("host")
            raise RuntimeError("the body failed")

    with pytest.raises(RuntimeError, match="the body failed"):
        await failing_body()
    (daemon,) = seen
    assert not daemon.proc.running
    assert daemon.api.session.closed


async def test_the_api_is_reached_inside_its_namespace_only(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.9.1/24"], ["10.231.9.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    daemon = await netevd(built, scripts, api=True, scripts={"timeout": 5})
    api = daemon.api
    status = await api.status()
    assert status["ready"] is True
    assert status["counts"]["interfaces"] == len(await built.ip_json("host", "link"))
    with pytest.raises(LabError, match="status 404"):
        await api.data("/api/v1/interfaces/nope0")
    metrics = await api.metrics()
    assert metrics.total("netevd_interfaces_total") == status["counts"]["interfaces"]
    assert metrics.total("netevd_source_up", source="netlink") == 1
    last = await api.last_event()
    assert last is not None
    assert await api.event_ts(last["seq"]) == float(last["ts"])
    async with api.stream("/api/v1/events/stream?interface=eth0") as response:
        await built.run("host", "ip", "addr", "add", "10.231.9.7/24", "dev", "eth0")
        ((kind, ident, event),) = await asyncio.wait_for(
            sse_messages(response, 1, lambda k, d: d.get("type") == "address-added"), 10
        )
    assert (kind, ident, event["detail"]["address"]) == ("event", event["seq"], "10.231.9.7/24")
    # nothing listens in the peer namespace: the same port there is refused
    async with NsApi(built.ns("peer")) as elsewhere:
        with pytest.raises(aiohttp.ClientConnectorError):
            await elsewhere.status()


async def test_a_daemon_without_its_api_says_so(lab, netevd, tmp_path):
    built = await lab(host_peer())
    daemon = await netevd(built, ScriptDirs(tmp_path / "scripts"))
    assert daemon.api is None
    with pytest.raises(LabError, match="without its API"):
        daemon.http  # noqa: B018 - the property raising is what is tested
