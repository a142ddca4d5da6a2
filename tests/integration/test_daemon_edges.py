"""The real daemon against hostile names, runaway scripts, route storms and overruns."""

import json
import os
from pathlib import Path

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs

TWO_LINKS = host_peer(
    ["10.231.9.1/24"],
    ["10.231.9.2/24"],
    eth1=True,
    host_eth1=["10.231.10.1/24"],
    peer_eth1=["10.231.10.2/24"],
)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_a_runaway_script_and_its_grandchild_are_killed(lab, netevd, tmp_path):
    built = await lab(TWO_LINKS)
    scripts = ScriptDirs(tmp_path / "scripts")
    pids = tmp_path / "pids"
    scripts.add_raw(
        "no-carrier",
        "10-hang",
        f"#!/bin/sh\nsleep 300 &\necho $! > {pids}.child\necho $$ > {pids}.self\nsleep 300\n",
    )
    proc = (await netevd(built, scripts, scripts={"timeout": 1})).proc
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    await proc.wait_for_log(r"script\.timeout ", timeout=15)
    child, script = int(Path(f"{pids}.child").read_text()), int(Path(f"{pids}.self").read_text())
    await wait_until(lambda: not alive(child) and not alive(script), timeout=5)


async def test_links_with_shell_metacharacters_run_nothing(lab, netevd, tmp_path):
    built = await lab(TWO_LINKS)
    scripts = ScriptDirs(tmp_path / "scripts")
    for state in ("carrier", "no-carrier", "routable", "degraded", "off", "routes"):
        scripts.add(state)
    proc = (await netevd(built, scripts)).proc
    await built.run(
        "host",
        "ip",
        "link",
        "add",
        "x$(id)",
        "index",
        "40",
        "type",
        "veth",
        "peer",
        "name",
        "y;id",
        "index",
        "41",
    )
    for _ in range(2):
        for name in ("x$(id)", "y;id"):
            await built.run("host", "ip", "link", "set", name, "up")
        await built.run("host", "ip", "addr", "add", "10.231.77.1/24", "dev", "x$(id)")
        await built.run("host", "ip", "link", "set", "y;id", "down")
        await built.run("host", "ip", "addr", "del", "10.231.77.1/24", "dev", "x$(id)")
    # a clean link still works, and its run comes after every event above
    await built.run("peer", "ip", "link", "set", "eth1", "down")
    await scripts.wait_for(STATE="no-carrier", LINK="eth1")
    assert {r.link for r in scripts.runs()} <= {"eth0", "eth1"}
    for run in scripts.runs():
        assert all("$(" not in v and ";id" not in v for v in run.env.values())
    rejected = [line for _, line in proc.lines if "link.rejected" in line]
    assert len(rejected) == 2, rejected


async def test_a_thousand_routes_run_routes_d_once_per_link_with_the_final_picture(
    lab, netevd, tmp_path
):
    built = await lab(TWO_LINKS)
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("routes")
    await netevd(built, scripts)
    batch = tmp_path / "routes.batch"
    lines = [
        f"route add 10.{100 + i // 250}.{i % 250}.0/24 via 10.231.9.2 dev eth0" for i in range(500)
    ]
    lines += [
        f"route add 10.{110 + i // 250}.{i % 250}.0/24 via 10.231.10.2 dev eth1" for i in range(500)
    ]
    batch.write_text("\n".join(lines) + "\n")
    await built.run("host", "ip", "-batch", str(batch))
    # A later change on eth1: once its run shows up, eth0's storm has long been coalesced.
    await built.run("host", "ip", "route", "add", "10.250.0.0/24", "dev", "eth1")
    sentinel = await wait_until(
        lambda: [
            r
            for r in scripts.matching(STATE="routes", LINK="eth1")
            if json.loads(r.env["NETEVD_JSON"])["route_count"] == 503
        ],
        timeout=20,
    )
    eth0 = scripts.matching(STATE="routes", LINK="eth0")
    assert len(eth0) == 1
    doc = json.loads(eth0[0].env["NETEVD_JSON"])
    assert doc["route_count"] == 502  # the 500 new ones, the prefix route and fe80::/64
    assert eth0[0].env["EVENT"] == "new"
    assert len(scripts.matching(STATE="routes", LINK="eth1")) <= 2
    assert sentinel


async def test_an_overrun_is_repaired_by_a_redump(lab, netevd, tmp_path):
    built = await lab(TWO_LINKS)
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("no-carrier")
    proc = (await netevd(built, scripts, system={"netlink_rcvbuf": 4096})).proc
    batch = tmp_path / "addrs.batch"
    addrs = [f"10.{200 + i // 60000}.{(i // 250) % 240}.{i % 250 + 1}" for i in range(10_005)]
    lines = [f"addr add {a}/32 dev eth0" for a in addrs]
    lines += [f"addr del {a}/32 dev eth0" for a in addrs[10:]]
    batch.write_text("\n".join(lines) + "\n")
    await built.run("host", "ip", "-batch", str(batch), timeout=120)
    await proc.wait_for_log(r"netlink\.overrun", timeout=30)
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    expected = set()
    for entry in await built.ip_json("host", "addr", "show", "dev", "eth0"):
        expected |= {a["local"] for a in entry["addr_info"] if a["scope"] == "global"}
    assert len(expected) == 11

    def final_picture() -> bool:
        runs = scripts.matching(STATE="no-carrier", LINK="eth0")
        return bool(runs) and set(runs[-1].env["ADDRESSES"].split()) == expected

    await wait_until(final_picture, timeout=60)
    assert os.path.exists(f"/proc/{proc.pid}")
