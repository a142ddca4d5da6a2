"""Chaos: scripts that misbehave as production's do. One forks a thousand children, one closes
stdout and keeps running past its timeout, one writes 1 GiB to stdout. Each is bounded, killed
with its whole tree and logged; another link's scripts run meanwhile, complete and in order
(their latency goes to the test's log; nothing is asserted on time)."""

import time
from pathlib import Path

from chaos_support import health

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs

TOPOLOGY = host_peer(
    ["10.231.87.1/24"],
    ["10.231.87.2/24"],
    eth1=True,
    host_eth1=["10.231.88.1/24"],
    peer_eth1=["10.231.88.2/24"],
)
ONLY_ETH1 = '#!/bin/sh\n[ "$LINK" = eth1 ] || exit 0\n'


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_fork_storm_closed_stdout_and_a_flood_are_bounded(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    forks, closed = tmp_path / "forks.pids", tmp_path / "closed.pid"
    scripts.add_raw(
        "no-carrier",
        "10-forks",
        ONLY_ETH1 + f"i=0\nwhile [ $i -lt 1000 ]; do sleep 300 & echo $! >> {forks}; "
        "i=$((i+1)); done\nwait\n",
    )
    scripts.add_raw(
        "no-carrier",
        "20-closed",
        ONLY_ETH1 + f"echo $$ > {closed}\nexec >&- 2>&-\nexec sleep 300\n",
    )
    scripts.add_raw("no-carrier", "30-flood", ONLY_ETH1 + "exec head -c 1073741824 /dev/zero\n")
    scripts.add("no-carrier", "50-record")
    scripts.add("carrier", "50-record")
    daemon = await netevd(built, scripts, api=True, scripts={"timeout": 3})
    proc = daemon.proc
    await built.run("peer", "ip", "link", "set", "eth1", "down")
    await wait_until(lambda: len(pids(forks)) > 0, timeout=10, message="the fork storm began")
    # eth0 meanwhile: its scripts run, complete and in order
    started, latencies = time.monotonic(), []
    for state, name in (("down", "no-carrier"), ("up", "carrier")) * 3:
        t0 = time.monotonic()
        count = len(scripts.matching(STATE=name, LINK="eth0"))
        await built.run("peer", "ip", "link", "set", "eth0", state)
        await scripts.wait_for(count + 1, STATE=name, LINK="eth0", timeout=15)
        latencies.append(time.monotonic() - t0)
    print(f"eth0 carrier->script run (s) while eth1's scripts misbehave: {latencies}")
    live = [
        r for r in scripts.runs() if r.env.get("LINK") == "eth0" and r.env["NETEVD_REPLAY"] == "0"
    ]
    assert [r.env["STATE"] for r in live] == ["no-carrier", "carrier"] * 3
    seqs = [int(r.env["NETEVD_SEQ"]) for r in live]
    assert seqs == sorted(seqs)
    # eth1: each of the three ends, killed with its tree, logged; then the next script runs
    await scripts.wait_for(STATE="no-carrier", LINK="eth1", timeout=30)
    print(f"eth1's three scripts took {time.monotonic() - started:.1f} s")
    log = proc.output()
    assert f"script.timeout link=eth1 script={scripts.root}/no-carrier.d/10-forks" in log
    assert f"script.timeout link=eth1 script={scripts.root}/no-carrier.d/20-closed" in log
    assert f"script={scripts.root}/no-carrier.d/30-flood" in log
    children = pids(forks) + pids(closed)
    assert len(children) > 1
    await wait_until(lambda: not any(alive(p) for p in children), timeout=15, message="all gone")
    flood = [
        s
        for e in await daemon.http.data("/api/v1/events", params={"limit": "1000"})
        for s in e["scripts"]
        if e["link_name"] == "eth1" and s["script"].endswith("30-flood")
    ]
    assert len(flood) == 1
    assert len(flood[0]["output"]) <= 2048  # what the event log keeps of 1 GiB
    print(f"30-flood: exit {flood[0]['exit_code']}, timed out {flood[0]['timed_out']}")
    assert hwm_kib(proc.pid) < 512 * 1024  # the GiB never sat in the daemon's memory
    assert (await health(daemon.http))[0] == 200
    assert "Traceback" not in log
