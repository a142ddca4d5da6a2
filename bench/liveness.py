"""Gateway liveness: the router stops answering (its end set ``arp off``, carrier up) ->
``gateway.d EVENT=unreachable`` script start, through the real daemon
(``monitoring.gateway_liveness``), with the neighbour table's default timers and with short ones.

Baseline in the same run: the kernel's own FAILED notification as a bare reader sees it
(``ip -ts monitor neigh`` in the host's namespace, its own timestamp). The difference between the
two is netevd's share; the rest is the kernel's probe timing (docs/policy-routing.md).
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import bench_topology, bench_world
from bench.results import RESULTS_DIR, write_results
from bench.stats import Summary, table
from lab.process import ManagedProcess
from lab.wait import until

GATEWAY = "10.214.1.2"
SETTINGS = {
    "default": {},  # the kernel's: base_reachable_time_ms 30000, delay_first_probe_time 5, ...
    "fast": {
        "base_reachable_time_ms": "1000",
        "delay_first_probe_time": "1",
        "interval_probe_time_ms": "1000",
    },
}
FAILED = re.compile(r"^\[([^\]]+)\] " + re.escape(GATEWAY) + r" .*\bFAILED\b")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=3, help="failures timed per setting")


def _failed_at(monitor: ManagedProcess, seen: int) -> float | None:
    for _, line in monitor.lines[seen:]:
        found = FAILED.match(line)
        if found:
            return datetime.fromisoformat(found.group(1)).timestamp()
    return None


async def run(setting: str, trials: int) -> dict[str, Any]:
    topology = bench_topology(gateway=GATEWAY)
    async with bench_world(
        topology, stamps=("gateway",), monitoring={"gateway_liveness": True}
    ) as world:
        lab = world.lab
        for name, value in SETTINGS[setting].items():
            await lab.run("host", "sysctl", "-qw", f"net.ipv4.neigh.eth0.{name}={value}")
        argv = ["ip", "-ts", "monitor", "neigh"]
        monitor = await lab.start_process(ManagedProcess(argv, netns=lab.ns("host"), name="mon"))
        kernel: list[float] = []
        script: list[float] = []

        async def reachable() -> bool:
            found = await lab.ip_json("host", "neigh", "show", GATEWAY, "dev", "eth0")
            return any("REACHABLE" in n.get("state", ()) for n in found)

        await until(reachable, timeout=60)
        for _ in range(trials):
            start, seen = len(world.stamps.records), len(monitor.lines)
            t0 = time.time()
            await lab.run("peer", "ip", "link", "set", "dev", "eth0", "arp", "off")
            down = await until(world.stamps.finder(start, event="unreachable"), timeout=180)
            failed = _failed_at(monitor, seen)
            kernel.append(failed - t0 if failed else float("nan"))
            script.append(down.t - t0)
            start = len(world.stamps.records)
            await lab.run("peer", "ip", "link", "set", "dev", "eth0", "arp", "on")
            await until(world.stamps.finder(start, event="reachable"), timeout=180)
    return {
        "setting": setting,
        "sysctls": SETTINGS[setting],
        "kernel_failed_s": Summary.of(kernel),
        "script_s": Summary.of(script),
        "netevd_ms": Summary.of([(s - k) * 1000 for s, k in zip(script, kernel, strict=True)]),
    }


def report(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        for what, unit in (("kernel_failed_s", "s"), ("script_s", "s"), ("netevd_ms", "ms")):
            rows.append([r["setting"], what, unit, *r[what].cells()])
    return table(["timers", "measure", "unit", "min", "p50", "p90", "p99", "max"], rows)


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    results = [await run(setting, args.trials) for setting in SETTINGS]
    print(report(results), flush=True)
    path = write_results("liveness", {"trials": args.trials}, {"settings": results}, out)
    print(f"\nresults: {path}\n", flush=True)
    return results
