"""The real netevd process in a lab namespace: kernel events run the right scripts."""

import json
import os
import signal

import pytest

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs


@pytest.fixture
async def world(lab, tmp_path):
    # distinct ifindexes on the two ends (10/11): the kernel reports carrier loss at once
    built = await lab(host_peer(peer=["10.231.9.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    return built, scripts


async def test_carrier_and_address_transitions(world, netevd):
    built, scripts = world
    for state in ("carrier", "no-carrier", "routable", "degraded"):
        scripts.add(state)
    await netevd(built, scripts)
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
        "NETEVD_SCRIPT",
        "NETEVD_REPLAY",
        "NETEVD_JSON",
        "ADDRESSES",
        "GATEWAY",
        "GATEWAY6",
        "PWD",
        "SHLVL",
        "_",
    }


async def test_scripts_run_in_name_order_and_a_failure_does_not_stop_the_next(
    world, netevd, tmp_path
):
    built, scripts = world
    order = tmp_path / "order.log"
    for name, code in (("20-second", 0), ("10-first", 3), ("30-third", 0)):
        scripts.add_raw(
            "no-carrier", name, f'#!/bin/sh\necho "$NETEVD_SCRIPT" >> {order}\nexit {code}\n'
        )
    proc = (await netevd(built, scripts)).proc
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    await proc.wait_for_log(r"30-third", timeout=15)
    lines = order.read_text().split()
    assert [os.path.basename(x) for x in lines] == ["10-first", "20-second", "30-third"]
    await proc.wait_for_log(r"script\.\w+ .*10-first.*(exit|rc|code)\D*3")


async def test_startup_replays_existing_state(world, netevd):
    built, scripts = world
    await built.run("host", "ip", "addr", "add", "10.231.9.1/24", "dev", "eth0")
    scripts.add("routable")
    scripts.add("carrier")
    await netevd(built, scripts)
    (run,) = await scripts.wait_for(STATE="routable", NETEVD_REPLAY="1")
    assert run.env["EVENT"] == "replay"
    assert run.env["ADDRESSES"] == "10.231.9.1"
    await scripts.wait_for(STATE="carrier", NETEVD_REPLAY="1", LINK="eth0")


async def test_a_directory_empty_at_start_fires_in_the_replay_and_runs_once_it_has_a_script(
    world, netevd
):
    built, scripts = world
    await built.run("host", "ip", "addr", "add", "10.231.9.1/24", "dev", "eth0")
    scripts.add("routable")  # carrier.d does not exist at start
    daemon = await netevd(built, scripts, api=True)
    (run,) = await scripts.wait_for(STATE="routable", NETEVD_REPLAY="1")
    assert run.env["ADDRESSES"] == "10.231.9.1"  # a run with scripts is built as before
    [replay] = await daemon.http.data("/api/v1/events", params={"type": "replay"})
    assert {"carrier", "routable"} <= set(replay["directories"])  # both fired
    assert scripts.matching(STATE="carrier") == []  # nothing ran for the empty one
    scripts.add("carrier")
    await built.set_carrier("peer", "eth0", "down", "host", "eth0")
    await built.set_carrier("peer", "eth0", "up", "host", "eth0")
    (run,) = await scripts.wait_for(STATE="carrier", LINK="eth0")
    assert (run.env["NETEVD_REPLAY"], run.env["ADDRESSES"]) == ("0", "10.231.9.1")


async def test_sigterm_stops_cleanly(world, netevd):
    built, scripts = world
    proc = (await netevd(built, scripts)).proc
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait_exit(15) == 0
    assert "stopped" in proc.output()


async def test_routes_the_kernel_flushes_silently_are_noticed(world, netevd):
    built, scripts = world
    await built.run("host", "ip", "addr", "add", "10.231.9.1/24", "dev", "eth0")
    await built.run("host", "ip", "route", "add", "10.77.0.0/16", "via", "10.231.9.2")
    scripts.add("routes")
    await netevd(built, scripts)
    # IPv4: removing the address drops its prefix route and the route via it, with no
    # RTM_DELROUTE for either; netevd re-reads the routes once the burst is over.
    await built.run("host", "ip", "addr", "del", "10.231.9.1/24", "dev", "eth0")

    def flushed():
        for run in scripts.matching(STATE="routes", EVENT="del"):
            dsts = {r["dst"] for r in json.loads(run.env["NETEVD_JSON"])["routes"]}
            if not dsts & {"10.231.9.0/24", "10.77.0.0/16"}:
                return run
        return None

    assert await wait_until(flushed, timeout=15)
