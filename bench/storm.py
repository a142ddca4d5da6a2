"""Storms at router scale: routes by the thousand and the million, addresses on one link; netevd
beside a bare pyroute2 reader, with the API, another link's carrier and SIGTERM watched.

Each run gets a fresh lab (``host`` and ``peer`` joined by ``eth0``, ifindexes 10/11, and by
``eth1``, 12/13) and a fresh process in ``host``. The storm is one ``ip -batch`` in ``host``:

- routes K: K ``route add 10.X.Y.0/24 via 10.214.1.2 dev eth0`` lines. The reader
  (bench/reader.py) is timed to the K-th route it read; netevd to the engine's time of the
  last event when ``/api/v1/status`` first counts every route. Then ``/api/v1/routes`` is
  compared with ``ip -j -4/-6 route show table all`` (divergence: routes on one side only).
- addresses N: N/2+5 ``addr add`` then N/2-5 ``addr del`` (/32s on eth0); timed to the status
  count, then ``/api/v1/interfaces`` is compared with ``ip -j addr``.

While netevd works through a storm, ``/api/v1/status`` and ``/health`` are each requested every
50 ms (their answer times are the latency columns), and the peer end of ``eth1`` is set down or
up every 250 ms: the time from that request to its ``no-carrier.d``/``carrier.d`` script's first
timestamp is "other link's carrier". A second netevd run of the same storm is sent SIGTERM
once a quarter of it is handled: the time until the process has exited.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import probes
from bench.common import World, bench_topology, bench_world, cpu_seconds, ip_batch, write_batch
from bench.reader_run import reader_run
from bench.results import RESULTS_DIR, write_results
from bench.storm_report import report
from lab.wait import until

GATEWAY = "10.214.1.2"
KEEP = 10  # addresses the address storm leaves behind
STAMPS = ["routes", "carrier", "no-carrier"]
NO_STARTUP_RUNS = {"run_startup_triggers": False}
TIMEOUT = 1800.0  # seconds a storm may take to be caught up


def route_lines(count: int) -> list[str]:
    return [
        f"route add 10.{100 + i // 62500}.{i // 250 % 250}.{i % 250}/32 via {GATEWAY} dev eth0"
        if count > 62_500
        else f"route add 10.{100 + i // 250}.{i % 250}.0/24 via {GATEWAY} dev eth0"
        for i in range(count)
    ]


def address_lines(count: int) -> list[str]:
    adds, dels = count // 2 + KEEP // 2, count - count // 2 - KEEP // 2
    names = [f"10.200.{i // 250}.{i % 250 + 1}" for i in range(adds)]
    return [f"addr add {a}/32 dev eth0" for a in names] + [
        f"addr del {a}/32 dev eth0" for a in names[:dels]
    ]


NO_DAD = {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"}


def topology() -> Any:
    """bench_topology with eth1; IPv6 DAD off, so the link-local picture is final at once."""
    return bench_topology(
        eth1=True, host_eth1=["10.214.2.1/24"], peer_eth1=["10.214.2.2/24"], sysctls=NO_DAD
    )


def _kernel_count(world: World, what: str) -> Callable[[], Awaitable[int]]:
    host = world.lab.ns("host")

    async def count() -> int:
        if what == "routes":
            return await probes.kernel_route_count(host)
        return len(await probes.kernel_addresses(host))

    return count


async def _expected(world: World, what: str, count: int) -> int:
    """The daemon's count of *what* the storm must end at: once the daemon's count equals the
    kernel's and both stood still for a second (IPv6 adds link-local addresses and routes a
    while after the links come up), that count plus what the storm adds."""
    settled: list[int] = []
    kernel = _kernel_count(world, what)

    async def steady() -> bool | None:
        daemon = int((await world.api.status())["counts"][what])
        settled.append(daemon if daemon == await kernel() else -1)
        return (len(settled) >= 5 and len(set(settled[-5:])) == 1 and settled[-1] >= 0) or None

    await until(steady, 30, interval=0.25, message=f"the daemon's {what} = the kernel's")
    return settled[-1] + (count if what == "routes" else KEEP)


async def netevd_run(what: str, count: int, **sections: Any) -> dict[str, Any]:
    """One storm through the real daemon, watched; its figures."""
    lines = route_lines(count) if what == "routes" else address_lines(count)
    async with bench_world(topology(), stamps=STAMPS, scripts=NO_STARTUP_RUNS, **sections) as w:
        batch = write_batch(w.work / "storm.batch", lines)
        expected = await _expected(w, what, count)
        idle, cpu = w.memory(), cpu_seconds(w.pid)
        watched = await _watched(w, what, expected, batch)
        after, cpu_used = w.memory(), cpu_seconds(w.pid) - cpu
        found = {
            "scenario": f"{what} {count:,}",
            "idle_rss_mib": idle.rss_mib,
            "after_rss_mib": after.rss_mib,
            "hwm_mib": after.hwm_mib,
            "daemon_cpu_s": cpu_used,
            **watched,
        }
        found.update(await _metrics_and_state(w, what))
        return found


async def _watched(world: World, what: str, expected: int, batch: Path) -> dict[str, Any]:
    status = probes.Poller(world.api, "/api/v1/status")
    health = probes.Poller(world.api, "/health")
    caught = probes.CaughtUp(world.api, what, expected, _kernel_count(world, what))
    async with world.lab.ipr("peer") as ipr:
        index = int((await ipr.link_lookup(ifname="eth1"))[0])
        flipper = probes.Flipper(ipr, index, lambda: caught.when is None)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(p.run(stop)) for p in (status, health, flipper)]
        try:
            t0 = time.time()
            await ip_batch(world.lab.ns("host"), batch, timeout=TIMEOUT)
            t_batch = time.time()
            reached = await until(
                caught.reached, TIMEOUT, interval=0.05, message=f"{what} = {expected}"
            )
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    flips, missed = flipper.latencies(world.stamps)
    handled = await world.api.data("/api/v1/events?interface=eth1&type=link&limit=1000")
    return {
        "flip_times": [f.t - t0 for f in flipper.flips],
        "eth1_handled": [e["ts"] - t0 for e in handled],
        "batch_s": t_batch - t0,
        "caught_up_s": float(reached or 0) - t0,
        "after_batch_s": float(reached or 0) - t_batch,
        "status_ms": status.summary(),
        "health_ms": health.summary(),
        "api_failures": status.failures + health.failures,
        "api_errors": (status.errors + health.errors)[:5],
        "carrier_ms": flips,
        "carrier_missed": missed,
    }


async def _metrics_and_state(world: World, what: str) -> dict[str, Any]:
    metrics = await world.api.metrics()
    host = world.lab.ns("host")
    if what == "routes":
        divergence = await probes.route_divergence(world.api, host)
    else:
        divergence = await probes.address_divergence(world.api, host)
    return {
        "messages": metrics.total("netevd_netlink_messages_total"),
        "overrun_resyncs": metrics.total("netevd_netlink_resyncs_total", reason="overrun"),
        "divergence": divergence,
    }


async def sigterm_run(what: str, count: int, **sections: Any) -> float:
    """Seconds from SIGTERM, sent once a quarter of the storm is handled, to the exit."""
    lines = route_lines(count) if what == "routes" else address_lines(count)
    async with bench_world(topology(), stamps=STAMPS, scripts=NO_STARTUP_RUNS, **sections) as w:
        batch = write_batch(w.work / "storm.batch", lines)
        start = await _expected(w, what, 0)
        quarter = start + count // 4 if what == "routes" else start + count // 8

        async def handled() -> bool | None:
            return int((await w.api.status())["counts"][what]) >= quarter or None

        storm = asyncio.create_task(ip_batch(w.lab.ns("host"), batch, timeout=TIMEOUT))
        try:
            await until(handled, TIMEOUT, interval=0.05, message=f"a quarter of the {what}")
            sent = time.monotonic()
            w.daemon.proc.send_signal(signal.SIGTERM)
            await w.daemon.proc.wait_exit(60)
            return time.monotonic() - sent
        finally:
            await asyncio.gather(storm, return_exceptions=True)


async def scenario(what: str, count: int, repeat: int, sigterm: bool) -> list[dict[str, Any]]:
    """*repeat* reader runs and netevd runs, alternating, and one SIGTERM run."""
    runs: list[dict[str, Any]] = []
    for n in range(repeat):
        reader = None
        if what == "routes":
            reader = await reader_run(topology(), route_lines(count), GATEWAY)
        found = await netevd_run(what, count)
        found["run"] = n + 1
        found["reader"] = reader
        runs.append(found)
    if sigterm:
        runs[-1]["sigterm_s"] = await sigterm_run(what, count)
    return runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--routes", type=int, action="append", help="route storms (20000, 100000)")
    parser.add_argument("--addresses", type=int, action="append", help="address storms (20000)")
    parser.add_argument("--full-table", type=int, default=1_000_000, help="0 skips it")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (full table: 1)")
    parser.add_argument("--no-sigterm", action="store_true", help="skip the SIGTERM runs")


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    sigterm = not args.no_sigterm
    results: list[dict[str, Any]] = []
    for count in args.routes or [20_000, 100_000]:
        if count > 0:  # --routes 0: no route storm
            results += await scenario("routes", count, args.repeat, sigterm)
    for count in args.addresses or [20_000]:
        if count > 0:
            results += await scenario("addresses", count, args.repeat, sigterm)
    if args.full_table:
        results += await scenario("routes", args.full_table, 1, sigterm)
    print(report(results), flush=True)
    params = {k: v for k, v in vars(args).items() if k not in ("func", "out")}
    path = write_results("storm", params, {"runs": results}, out)
    print(f"\nresults: {path}\n", flush=True)
    return results
