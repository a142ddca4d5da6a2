"""Start-up: process start to READY, with no links and with N veth links in the namespace.

The timer starts just before the bench spawns ``ip netns exec NS python -m netevd run``; "first
line" is the daemon's ``starting`` log line as the bench receives it (interpreter, imports and
configuration done), READY its ``ready`` line (after the first kernel dump, the replay and, when
enabled, the API listening). Scripts: none (so no startup triggers run). One untimed start first
warms the page cache; then ``--starts`` timed starts, each stopped (SIGTERM) before the next.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import anchors
from bench.common import (
    daemon_config,
    ip_batch,
    memory,
    new_lab_prefix,
    veth_batches,
    write_batch,
)
from bench.memory import NO_DAD
from bench.results import RESULTS_DIR, write_results
from bench.stats import Summary, fmt, table
from lab import Lab, Topology
from lab.netevd import NetevdProcess, ScriptDirs, write_config


def topology() -> Topology:
    return Topology().add_netns("host", sysctls=NO_DAD).add_netns("peer", sysctls=NO_DAD)


async def _one(lab: Lab, config: Path) -> dict[str, float]:
    proc = NetevdProcess(lab.ns("host"), config)
    t0 = time.monotonic()
    await lab.start_process(proc)
    try:
        await proc.wait_for_log(r"\bstarting\b", 60)
        t1 = time.monotonic()
        await proc.wait_ready(120)
        t2 = time.monotonic()
        mem = memory(proc.pid)
    finally:
        await proc.stop()
    return {
        "first_line_ms": (t1 - t0) * 1e3,
        "ready_ms": (t2 - t0) * 1e3,
        "rss_mib": mem.rss_mib,
        "hwm_mib": mem.hwm_mib,
    }


async def run(links: int, starts: int, api: bool) -> dict[str, Any]:
    samples: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="netevd-bench-") as tmp:
        work = Path(tmp)
        dirs = ScriptDirs(work / "scripts")
        config = write_config(work / "netevd.yaml", daemon_config(dirs, api=api))
        async with Lab(topology(), prefix=new_lab_prefix()) as lab:
            host, peer = lab.ns("host"), lab.ns("peer")
            if links:
                create, up_here, up_there = veth_batches(links, peer)
                await ip_batch(host, write_batch(work / "create.batch", create))
                await ip_batch(host, write_batch(work / "up-host.batch", up_here))
                await ip_batch(peer, write_batch(work / "up-peer.batch", up_there))
            await _one(lab, config)  # warm-up, not counted
            for _ in range(starts):
                samples.append(await _one(lab, config))
    return {
        "links": links,
        "api": api,
        "ready_ms": Summary.of([s["ready_ms"] for s in samples]),
        "first_line_ms": Summary.of([s["first_line_ms"] for s in samples]),
        "rss_at_ready_mib": Summary.of([s["rss_mib"] for s in samples]),
        "samples": samples,
    }


def report(results: list[dict[str, Any]]) -> str:
    rows: list[list[object]] = []
    for r in results:
        ready: Summary = r["ready_ms"]
        first: Summary = r["first_line_ms"]
        rss: Summary = r["rss_at_ready_mib"]
        rows.append(
            [
                f"**netevd**, {r['links']:,} veth links, API {'on' if r['api'] else 'off'}",
                ready.n,
                *(fmt(v, 0) for v in (ready.min, ready.p50, ready.p90, ready.max)),
                fmt(first.p50, 0),
                fmt(rss.p50, 1),
            ]
        )
    d = anchors.DISPATCHER_STARTUP_MS
    rows.append(
        [
            "networkd-dispatcher, exec → 'Startup complete' (anchor)",
            d["n"],
            *(fmt(d[k], 0) for k in ("min", "p50", "p90", "max")),
            "-",
            "19.8",
        ]
    )
    head = ["what", "n", "min", "p50", "p90", "max", "first log line p50", "RSS at READY p50"]
    return "Start-up: spawn → READY (ms; RSS MiB)\n\n" + table(head, rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--links", type=int, action="append", help="extra veth links (default 0 and 1000)"
    )
    parser.add_argument("--starts", type=int, default=10, help="timed starts per setting")


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    results = []
    for links in args.links or [0, 1000]:
        for api in (True, False):
            results.append(await run(links, args.starts, api))
    print(report(results), flush=True)
    params = {"links": args.links or [0, 1000], "starts": args.starts, "api": [True, False]}
    path = write_results("startup", params, {"settings": results}, out)
    print(f"\nresults: {path}\n", flush=True)
    return results
