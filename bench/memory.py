"""The daemon's memory: idle after start, with N more links in its namespace, after they go.

Lab: ``host`` and ``peer`` joined by veth ``eth0`` (10/11), IPv6 DAD off in both so the
link-local addresses are final at once. The daemon (API on, no scripts) starts in ``host``;
after a quiet second its VmRSS/VmHWM are read, and its CPU time over an idle window. Then N veth
pairs ``vbI`` are made with ``ip -batch`` (peers in ``peer``) and set up on both sides; once the
daemon's link and address counts equal ``ip -j``'s and it has been quiet for a second, memory is
read again; then the links are deleted and it is read a third time. Per link = the RSS growth
divided by N.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import anchors
from bench.common import (
    RESULTS_DIR,
    Quiet,
    cpu_seconds,
    fmt,
    ip_batch,
    new_lab_prefix,
    running_daemon,
    table,
    until,
    veth_batches,
    wait_counts,
    write_batch,
    write_results,
)
from lab import Lab, Topology
from lab.netevd import ScriptDirs

NO_DAD = {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"}


def topology() -> Topology:
    t = Topology().add_netns("host", sysctls=NO_DAD).add_netns("peer", sysctls=NO_DAD)
    t.add_veth("eth0", "host", "eth0", "peer", index=10, peer_index=11)
    t.add_address("host", "eth0", "10.214.1.1/24")
    t.add_address("peer", "eth0", "10.214.1.2/24")
    return t


async def run(links: int, idle_seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="netevd-bench-") as tmp:
        work = Path(tmp)
        dirs = ScriptDirs(work / "scripts")
        async with Lab(topology(), prefix=new_lab_prefix()) as lab:
            host, peer = lab.ns("host"), lab.ns("peer")
            async with running_daemon(lab, "host", work, dirs) as daemon:
                api, pid = daemon.api, daemon.proc.pid
                started = daemon.memory()
                await until(Quiet(api, 1.0), 30, interval=0.1)
                idle = daemon.memory()
                cpu0 = cpu_seconds(pid)
                await asyncio.sleep(idle_seconds)  # the idle window being measured
                idle_cpu = cpu_seconds(pid) - cpu0
                base = (await api.status())["counts"]
                create, up_here, up_there = veth_batches(links, peer)
                batches = [
                    (host, write_batch(work / "create.batch", create)),
                    (host, write_batch(work / "up-host.batch", up_here)),
                    (peer, write_batch(work / "up-peer.batch", up_there)),
                ]
                t0, cpu0 = time.time(), cpu_seconds(pid)
                for netns, path in batches:
                    await ip_batch(netns, path)
                batch_s = time.time() - t0
                await wait_counts(api, host, 300)
                await until(Quiet(api, 1.0), 120, interval=0.1)
                last = await api.last_event()
                absorbed = (float(last["ts"]) if last else float("nan")) - t0
                absorb_cpu = cpu_seconds(pid) - cpu0
                loaded = daemon.memory()
                counts = (await api.status())["counts"]
                delete = [f"link del vb{i}" for i in range(links)]
                await ip_batch(host, write_batch(work / "delete.batch", delete))
                await wait_counts(api, host, 300)
                await until(Quiet(api, 1.0), 120, interval=0.1)
                removed = daemon.memory()
    return {
        "links": links,
        "started": started,
        "idle": idle,
        "idle_window_s": idle_seconds,
        "idle_cpu_s": idle_cpu,
        "with_links": loaded,
        "after_removal": removed,
        "per_link_kib": (loaded.rss_kib - idle.rss_kib) / links,
        "batch_s": batch_s,
        "absorb_s": absorbed,
        "absorb_cpu_s": absorb_cpu,
        "counts_before": {k: base[k] for k in ("interfaces", "addresses", "routes")},
        "counts_with_links": {k: counts[k] for k in ("interfaces", "addresses", "routes")},
    }


def report(r: dict[str, Any]) -> str:
    n = r["links"]
    c = r["counts_with_links"]
    rows = [
        ["at READY", fmt(r["started"].rss_mib, 1), fmt(r["started"].hwm_mib, 1), ""],
        [
            "idle (after a quiet second)",
            fmt(r["idle"].rss_mib, 1),
            fmt(r["idle"].hwm_mib, 1),
            f"CPU over {r['idle_window_s']:g} s idle: {r['idle_cpu_s'] * 1e3:.0f} ms",
        ],
        [
            f"with {n:,} more veth links",
            fmt(r["with_links"].rss_mib, 1),
            fmt(r["with_links"].hwm_mib, 1),
            f"{fmt(r['per_link_kib'], 1)} KiB per link; {c['interfaces']:,} links, "
            f"{c['addresses']:,} addresses, {c['routes']:,} routes; "
            f"ip -batch {fmt(r['batch_s'])} s, last event at {fmt(r['absorb_s'])} s, "
            f"daemon CPU {fmt(r['absorb_cpu_s'])} s",
        ],
        [
            f"after deleting the {n:,} links",
            fmt(r["after_removal"].rss_mib, 1),
            fmt(r["after_removal"].hwm_mib, 1),
            "",
        ],
    ]
    anchor_rows = [[f"{tool} (anchor)", fmt(mib, 1), "-", "idle"] for tool, mib in
                   anchors.IDLE_RSS_MIB.items()]  # fmt: skip
    return "Memory of the daemon (MiB)\n\n" + table(
        ["when", "VmRSS", "VmHWM", "notes"], rows + anchor_rows
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--links", type=int, default=1000, help="veth links to add (1000)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window")


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> dict[str, Any]:
    result = await run(args.links, args.idle_seconds)
    print(report(result), flush=True)
    params = {"links": args.links, "idle_seconds": args.idle_seconds}
    path = write_results("memory", params, result, out)
    print(f"\nresults: {path}\n", flush=True)
    return result
