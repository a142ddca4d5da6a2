"""Chaos: netevd stopped with SIGSTOP for 10 s while a storm runs, then SIGCONT.

Its netlink socket overruns; it says so in one line, re-dumps, and ends with the kernel's state
(links and addresses equal to ``ip -j``'s) and the scripts of the final state run.
"""

import asyncio
import signal

from chaos_support import health

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs

TOPOLOGY = host_peer(
    ["10.231.84.1/24"],
    ["10.231.84.2/24"],
    eth1=True,
    host_eth1=["10.231.85.1/24"],
    peer_eth1=["10.231.85.2/24"],
)
STOPPED_FOR = 10.0  # seconds: the fault itself, not a wait for the system


async def same_addresses(built, api) -> bool:
    kernel = {
        (e["ifname"], a["local"], a["prefixlen"])
        for e in await built.ip_json("host", "addr", "show")
        for a in e.get("addr_info", [])
    }
    daemon = {
        (i["name"], a["address"], a["prefixlen"])
        for i in await api.data("/api/v1/interfaces")
        for a in i["addresses"]
    }
    return kernel == daemon


async def test_sigstop_during_a_storm_then_sigcont_resyncs(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("carrier")
    scripts.add("no-carrier")
    daemon = await netevd(built, scripts, api=True, system={"netlink_rcvbuf": 65536})
    proc = daemon.proc
    batch = tmp_path / "storm.batch"
    addrs = [f"10.232.{i // 250}.{i % 250 + 1}" for i in range(5000)]
    lines = [f"addr add {a}/32 dev eth0" for a in addrs]
    lines += [f"addr del {a}/32 dev eth0" for a in addrs[7:]]
    batch.write_text("\n".join(lines) + "\n")
    proc.send_signal(signal.SIGSTOP)
    try:
        await built.run("host", "ip", "-batch", str(batch), timeout=120)
        for state in ("down", "up", "down"):  # eth1's cable: out, in, out (final: out)
            await built.run("peer", "ip", "link", "set", "eth1", state)
        await asyncio.sleep(STOPPED_FOR)
    finally:
        proc.send_signal(signal.SIGCONT)
    await proc.wait_for_log(r"netlink\.overrun", timeout=30)
    await wait_until(lambda: same_addresses(built, daemon.http), timeout=60, message="ip -j's")
    (final,) = await scripts.wait_for(STATE="no-carrier", LINK="eth1", timeout=30)
    assert set(final.env["ADDRESSES"].split()) == {"10.231.85.1"}
    eth0 = (await built.ip_json("host", "addr", "show", "dev", "eth0"))[0]
    assert sum(1 for a in eth0["addr_info"] if a["local"].startswith("10.232.")) == 7
    assert (await health(daemon.http))[0] == 200
    assert len([line for _, line in proc.lines if "netlink.overrun" in line]) == 1
    assert proc.running
    assert "Traceback" not in proc.output()
