"""The daemon's memory: idle after start, with N more links in its namespace, after they go.

Lab: ``host`` and ``peer`` joined by veth ``eth0`` (10/11), IPv6 DAD off in both so the
link-local addresses are final at once. The daemon (API on, no scripts) starts in ``host``;
after a quiet second its VmRSS/VmHWM are read, and its CPU time over an idle window. Then N veth
pairs ``vbI`` are made with ``ip -batch`` (peers in ``peer``) and set up on both sides; once the
daemon's link and address counts equal ``ip -j``'s and it has been quiet for a second, memory is
read again; then the links are deleted and it is read a third time. Per link = the RSS growth
divided by N. With ``--cycles C`` the links are made and deleted C times in all; after each
deletion the daemon's VmRSS, open file descriptors and threads are read (churn: what is not
given back).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from pathlib import Path
from typing import Any

from bench import anchors
from bench.common import (
    Memory,
    Quiet,
    World,
    bench_topology,
    bench_world,
    cpu_seconds,
    ip_batch,
    veth_batches,
    wait_counts,
    write_batch,
)
from bench.results import RESULTS_DIR, write_results
from bench.stats import fmt, table
from lab.wait import until

NO_DAD = {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"}
COUNTED = ("interfaces", "addresses", "routes")


async def run(
    links: int, idle_seconds: float, cycles: int = 1, env: dict[str, str] | None = None
) -> dict[str, Any]:
    async with bench_world(bench_topology(sysctls=NO_DAD), env=env) as world:
        result: dict[str, Any] = {"links": links, **await _idle(world, idle_seconds)}
        result.update(await _with_links(world, links))
        result["after_removal"] = await _links_removed(world, links)
        result["cycles"] = [_held(world)]
        for _ in range(cycles - 1):
            await _with_links(world, links)
            await _links_removed(world, links)
            result["cycles"].append(_held(world))
    result["per_link_kib"] = (result["with_links"].rss_kib - result["idle"].rss_kib) / links
    return result


def _held(world: World) -> dict[str, float]:
    """What the daemon holds now: VmRSS (MiB), open file descriptors, threads."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{world.pid}/status").read_text().splitlines()
    )
    return {
        "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
        "fds": float(len(list(Path(f"/proc/{world.pid}/fd").iterdir()))),
        "threads": float(int(status["Threads"])),
    }


async def _idle(world: World, idle_seconds: float) -> dict[str, Any]:
    """Memory at READY and after a quiet second, CPU over *idle_seconds* of idling."""
    started = world.memory()
    await until(Quiet(world.api, 1.0), 30, interval=0.1)
    idle = world.memory()
    cpu0 = cpu_seconds(world.pid)
    await asyncio.sleep(idle_seconds)  # the idle window being measured
    return {
        "started": started,
        "idle": idle,
        "idle_window_s": idle_seconds,
        "idle_cpu_s": cpu_seconds(world.pid) - cpu0,
    }


async def _with_links(world: World, links: int) -> dict[str, Any]:
    """*links* veth pairs made and set up by ``ip -batch``; memory once the daemon has them
    all and was quiet for a second, and how long and how much CPU absorbing them took."""
    host, peer = world.lab.ns("host"), world.lab.ns("peer")
    base = (await world.api.status())["counts"]
    create, up_here, up_there = veth_batches(links, peer)
    batches = [
        (host, write_batch(world.work / "create.batch", create)),
        (host, write_batch(world.work / "up-host.batch", up_here)),
        (peer, write_batch(world.work / "up-peer.batch", up_there)),
    ]
    t0, cpu0 = time.time(), cpu_seconds(world.pid)
    for netns, path in batches:
        await ip_batch(netns, path)
    batch_s = time.time() - t0
    await wait_counts(world.api, host, 300)
    await until(Quiet(world.api, 1.0), 120, interval=0.1)
    last = await world.api.last_event()
    absorbed = (float(last["ts"]) if last else math.nan) - t0
    absorb_cpu = cpu_seconds(world.pid) - cpu0
    loaded = world.memory()
    counts = (await world.api.status())["counts"]
    return {
        "with_links": loaded,
        "batch_s": batch_s,
        "absorb_s": absorbed,
        "absorb_cpu_s": absorb_cpu,
        "counts_before": {k: base[k] for k in COUNTED},
        "counts_with_links": {k: counts[k] for k in COUNTED},
    }


async def _links_removed(world: World, links: int) -> Memory:
    """Memory once the *links* pairs are deleted and the daemon has caught up."""
    host = world.lab.ns("host")
    delete = [f"link del vb{i}" for i in range(links)]
    await ip_batch(host, write_batch(world.work / "delete.batch", delete))
    await wait_counts(world.api, host, 300)
    await until(Quiet(world.api, 1.0), 120, interval=0.1)
    return world.memory()


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
    text = "Memory of the daemon (MiB)\n\n" + table(
        ["when", "VmRSS", "VmHWM", "notes"], rows + anchor_rows
    )
    if len(r["cycles"]) > 1:
        text += "\n\n" + churn_report(r)
    return text


def churn_report(r: dict[str, Any]) -> str:
    churn = [
        [i + 1, fmt(c["rss_mib"], 1), int(c["fds"]), int(c["threads"])]
        for i, c in enumerate(r["cycles"])
    ]
    return f"Churn: after each deletion of the {r['links']:,} links\n\n" + table(
        ["cycle", "VmRSS (MiB)", "fds", "threads"], churn
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--links", type=int, default=1000, help="veth links to add (1000)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window")
    parser.add_argument("--cycles", type=int, default=1, help="times the links come and go (1)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="added to the daemon's environment (A/B: MALLOC_ARENA_MAX=2, ...)",
    )


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> dict[str, Any]:
    env = dict(item.split("=", 1) for item in args.env)
    result = await run(args.links, args.idle_seconds, args.cycles, env)
    print(report(result), flush=True)
    params = {
        "links": args.links,
        "idle_seconds": args.idle_seconds,
        "cycles": args.cycles,
        "env": env,
    }
    path = write_results("memory", params, result, out)
    print(f"\nresults: {path}\n", flush=True)
    return result
