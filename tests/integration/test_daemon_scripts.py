"""The real netevd process in a lab namespace: kernel events run the right scripts."""

import json
import os
import signal

import pytest

from lab import Topology
from lab.netevd import NetevdProcess, ScriptDirs, netevd_config, write_config


def two_hosts() -> Topology:
    t = Topology().add_netns("host").add_netns("peer")
    # distinct ifindexes on the two ends: the kernel reports carrier loss at once
    t.add_veth("eth0", "host", "eth0", "peer", index=10, peer_index=11)
    t.add_address("peer", "eth0", "10.231.9.2/24")
    return t


@pytest.fixture
async def world(lab, tmp_path):
    built = await lab(two_hosts())
    scripts = ScriptDirs(tmp_path / "scripts")
    return built, scripts


async def start(built, scripts, tmp_path, **sections):
    config = write_config(tmp_path / "netevd.yaml", netevd_config(scripts, **sections))
    proc = await built.start_process(NetevdProcess(built.ns("host"), config))
    await proc.wait_ready()
    return proc


async def test_carrier_and_address_transitions(world, tmp_path):
    built, scripts = world
    for state in ("carrier", "no-carrier", "routable", "degraded"):
        scripts.add(state)
    await start(built, scripts, tmp_path)
    await built.run("host", "ip", "addr", "add", "10.231.9.1/24", "dev", "eth0")
    await built.run("host", "ip", "addr", "add", "fd00:231:9::1/64", "dev", "eth0", "nodad")
    (run,) = await scripts.wait_for(STATE="routable")
    assert run.env["ADDRESSES"] == "10.231.9.1"
    assert run.env["EVENT"] == "route-added"  # the prefix route follows the address
    doc = json.loads(run.env["NETEVD_JSON"])
    assert doc["schema"] == "netevd.event.v1"
    assert doc["link"]["index"] == 10
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    (run,) = await scripts.wait_for(STATE="no-carrier", LINK="eth0")
    assert {k: run.env.get(k) for k in ("LINK", "LINKINDEX", "STATE", "BACKEND", "ADDRESSES")} == {
        "LINK": "eth0",
        "LINKINDEX": "10",
        "STATE": "no-carrier",
        "BACKEND": "kernel",
        "ADDRESSES": "10.231.9.1 fd00:231:9::1",
    }
    assert run.env["NETEVD_REPLAY"] == "0"
    await built.run("peer", "ip", "link", "set", "eth0", "up")
    (run,) = await scripts.wait_for(STATE="carrier", NETEVD_REPLAY="0")
    assert {k: run.env.get(k) for k in ("LINK", "LINKINDEX", "STATE", "BACKEND", "ADDRESSES")} == {
        "LINK": "eth0",
        "LINKINDEX": "10",
        "STATE": "carrier",
        "BACKEND": "kernel",
        "ADDRESSES": "10.231.9.1 fd00:231:9::1",
    }
    order = [r.state for r in scripts.runs() if r.env["NETEVD_REPLAY"] == "0"]
    assert order[:3] == ["routable", "no-carrier", "carrier"]
    await built.run("host", "ip", "addr", "del", "fd00:231:9::1/64", "dev", "eth0")
    await built.run("host", "ip", "addr", "del", "10.231.9.1/24", "dev", "eth0")
    (run,) = await scripts.wait_for(STATE="degraded", EVENT="address-removed")
    assert "ADDRESSES" not in run.env
    assert set(run.env) <= {
        "PATH",
        "LANG",
        "TZ",
        "LINK",
        "LINKINDEX",
        "STATE",
        "BACKEND",
        "GENERATOR",
        "EVENT",
        "NETEVD_SEQ",
        "NETEVD_REPLAY",
        "NETEVD_JSON",
        "ADDRESSES",
        "GATEWAY",
        "GATEWAY6",
        "PWD",
        "SHLVL",
        "_",
    }


async def test_scripts_run_in_name_order_and_a_failure_does_not_stop_the_next(world, tmp_path):
    built, scripts = world
    order = tmp_path / "order.log"
    for name, code in (("20-second", 0), ("10-first", 3), ("30-third", 0)):
        scripts.add_raw("no-carrier", name, f'#!/bin/sh\necho "$0" >> {order}\nexit {code}\n')
    proc = await start(built, scripts, tmp_path)
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    await proc.wait_for_log(r"30-third", timeout=15)
    lines = order.read_text().split()
    assert [os.path.basename(x) for x in lines] == ["10-first", "20-second", "30-third"]
    await proc.wait_for_log(r"script\.\w+ .*10-first.*(exit|rc|code)\D*3")


async def test_startup_replays_existing_state(world, tmp_path):
    built, scripts = world
    await built.run("host", "ip", "addr", "add", "10.231.9.1/24", "dev", "eth0")
    scripts.add("routable")
    scripts.add("carrier")
    await start(built, scripts, tmp_path)
    (run,) = await scripts.wait_for(STATE="routable", NETEVD_REPLAY="1")
    assert run.env["EVENT"] == "replay"
    assert run.env["ADDRESSES"] == "10.231.9.1"
    await scripts.wait_for(STATE="carrier", NETEVD_REPLAY="1", LINK="eth0")


async def test_sigterm_stops_cleanly(world, tmp_path):
    built, scripts = world
    proc = await start(built, scripts, tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait_exit(15) == 0
    assert "stopped" in proc.output()


async def test_routes_the_kernel_flushes_silently_are_noticed(world, tmp_path):
    built, scripts = world
    await built.run("host", "ip", "addr", "add", "10.231.9.1/24", "dev", "eth0")
    await built.run("host", "ip", "route", "add", "10.77.0.0/16", "via", "10.231.9.2")
    scripts.add("routes")
    await start(built, scripts, tmp_path)
    # IPv4: removing the address drops its prefix route and the route via it, with no
    # RTM_DELROUTE for either; netevd re-reads the routes once the burst is over.
    await built.run("host", "ip", "addr", "del", "10.231.9.1/24", "dev", "eth0")

    def flushed():
        for run in scripts.matching(STATE="routes", EVENT="del"):
            dsts = {r["dst"] for r in json.loads(run.env["NETEVD_JSON"])["routes"]}
            if not dsts & {"10.231.9.0/24", "10.77.0.0/16"}:
                return run
        return None

    from lab import wait_until

    assert await wait_until(flushed, timeout=15)
