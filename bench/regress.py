"""Carrier change → script start, netevd beside the floor in the same run, quiet and under a
background storm of about 1,000 route messages a second on another link.

The floor is bench/floor.py (a bare pyroute2 reader that spawns the same stamp script). Each
setting gets a fresh lab (the latency topology plus ``eth1``, 12/13), then the floor and netevd
take turns, one after the other, with *trials* down and *trials* up changes of the peer's
``eth0`` each (pyroute2 trigger, 30-80 ms pauses, as bench/latency.py). The background storm
adds and deletes /32 routes via ``eth1`` in ``host`` with pyroute2, ten every 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import bench_topology, bench_world
from bench.reader_run import ROOT
from bench.results import RESULTS_DIR, write_results
from bench.stamps import StampLog
from bench.stats import Summary, fmt, table
from lab import Lab
from lab.process import ManagedProcess
from lab.wait import WaitTimeout, until

STATES = {"down": "no-carrier", "up": "carrier"}
STORM_STEP = 0.01  # seconds between two rounds of the background storm
STORM_OPS = 10  # route adds or deletes per round: about 1,000 messages a second


def topology() -> Any:
    return bench_topology(eth1=True, host_eth1=["10.214.2.1/24"], peer_eth1=["10.214.2.2/24"])


async def trials(lab: Lab, stamps: StampLog, count: int, seed: int) -> list[float | None]:
    """*count* down and *count* up changes of the peer's eth0: ms to the stamp, or None."""
    rng = random.Random(seed)  # noqa: S311 - pacing, not security
    found: list[float | None] = []
    async with lab.ipr("peer") as ipr:
        index = int((await ipr.link_lookup(ifname="eth0"))[0])
        for n in range(2 * count):
            direction = "down" if n % 2 == 0 else "up"
            mark = stamps.poll()
            t0 = time.time()
            await ipr.link("set", index=index, state=direction)
            try:
                hit = await until(
                    stamps.finder(mark, state=STATES[direction], link="eth0"), 3, interval=0.002
                )
                found.append((hit.t - t0) * 1e3)
            except WaitTimeout:
                found.append(None)
            await asyncio.sleep(rng.uniform(0.03, 0.08))  # pacing between trials
    return found


async def background_storm(lab: Lab, stop: asyncio.Event) -> int:
    """Route adds and deletes via eth1 at about 1,000 messages a second until *stop*."""
    done = 0
    loop = asyncio.get_running_loop()
    async with lab.ipr("host") as ipr:
        index = int((await ipr.link_lookup(ifname="eth1"))[0])
        while not stop.is_set():
            started = loop.time()
            for _ in range(STORM_OPS):
                dst = f"10.215.{done // 500 % 250}.{done % 250}"
                op = "add" if done // 250 % 2 == 0 else "del"
                with contextlib.suppress(Exception):  # a delete of a route not there
                    await ipr.route(op, dst=f"{dst}/32", gateway="10.214.2.2", oif=index)
                done += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, started + STORM_STEP - loop.time()))
    return done


async def _measured(
    lab: Lab, stamps: StampLog, count: int, seed: int, storm: bool
) -> dict[str, Any]:
    stop = asyncio.Event()
    task = asyncio.create_task(background_storm(lab, stop)) if storm else None
    t0 = time.monotonic()
    try:
        found = await trials(lab, stamps, count, seed)
    finally:
        stop.set()
        ops = await task if task else 0
    elapsed = time.monotonic() - t0
    return {"ms": found, "storm_messages_per_s": ops / elapsed if storm else 0.0}


async def floor_run(count: int, seed: int, storm: bool) -> dict[str, Any]:
    async with bench_world(topology(), stamps=["carrier", "no-carrier"]) as w:
        await w.daemon.proc.stop()  # the floor alone watches this lab
        scripts = w.work / "scripts"
        argv = [sys.executable, "-m", "bench.floor", "--link", "eth0"]
        argv += ["--carrier", str(scripts / "carrier.d/50-stamp")]
        argv += ["--no-carrier", str(scripts / "no-carrier.d/50-stamp")]
        floor = ManagedProcess(argv, netns=w.lab.ns("host"), name="floor", cwd=ROOT)
        await w.lab.start_process(floor)
        await floor.wait_for_log(r"^ready$", 30)
        return await _measured(w.lab, w.stamps, count, seed, storm)


async def netevd_run(count: int, seed: int, storm: bool) -> dict[str, Any]:
    async with bench_world(
        topology(), stamps=["carrier", "no-carrier"], scripts={"run_startup_triggers": False}
    ) as w:
        return await _measured(w.lab, w.stamps, count, seed, storm)


def _row(tool: str, storm: bool, result: dict[str, Any]) -> list[object]:
    values = [v for v in result["ms"] if v is not None]
    s = Summary.of(values)
    rate = f"{fmt(result['storm_messages_per_s'], 0)}/s" if storm else "-"
    missed = sum(1 for v in result["ms"] if v is None)
    return [tool, rate, s.n, *s.cells(), missed]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=100, help="per direction (default 100)")
    parser.add_argument("--seed", type=int, default=1)


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    rows, results = [], []
    for storm in (False, True):
        floor = await floor_run(args.trials, args.seed, storm)
        mine = await netevd_run(args.trials, args.seed, storm)
        rows += [_row("floor: pyroute2 reader + spawn", storm, floor)]
        rows += [_row("**netevd**", storm, mine)]
        results.append({"storm": storm, "floor": floor, "netevd": mine})
    head = ["tool", "background storm", "n", "min", "p50", "p90", "p99", "max", "missed"]
    print("Carrier change → script start (ms), same run\n\n" + table(head, rows), flush=True)
    path = write_results("regress", {"trials": args.trials}, {"settings": results}, out)
    print(f"\nresults: {path}\n", flush=True)
    return results
