"""Storms: many route adds, many address adds and deletes, many carrier flaps.

Each scenario gets a fresh lab (``host`` and ``peer`` joined by veth ``eth0``, ifindexes 10/11)
and a fresh daemon in ``host``, so its memory figures belong to that scenario alone.

- routes K: K ``route add`` lines in one ``ip -batch`` in ``host``; timed from just before
  ``ip`` starts to the ``routes.d`` run whose ``NETEVD_JSON`` has the final ``route_count``.
- addresses N: N/2+5 ``addr add`` then N/2-5 ``addr del`` (/32s on eth0) in one ``ip -batch``;
  timed until the daemon's addresses (``/api/v1/interfaces``) are exactly ``ip -j addr``'s.
- flaps F: F peer down+up pairs back to back with pyroute2 (as the anchor study did); when the
  last script ran after the last trigger, how many ran, and whether the last one was the final
  state.

"Caught up" is the engine's ``ts`` of the last event it handled (``/api/v1/events``), so it
does not depend on how often the bench looks. Events/s divides the netlink messages the daemon
counted (``netevd_netlink_messages_total``) by the time from t0 to caught up; overruns are
``netevd_netlink_resyncs_total{reason="overrun"}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.burst_report import report
from bench.common import (
    Memory,
    Quiet,
    Window,
    World,
    bench_topology,
    bench_world,
    ip_batch,
    write_batch,
)
from bench.probes import kernel_addresses
from bench.results import RESULTS_DIR, write_results
from bench.stamps import Stamp, StampLog
from lab.http import NsApi
from lab.net.build import run_command
from lab.wait import until

GATEWAY = "10.214.1.2"
KEEP = 10  # addresses the address storm leaves behind
NO_STARTUP_RUNS = {"run_startup_triggers": False}


def _memory(world: World, idle: Memory) -> dict[str, Any]:
    now = world.memory()
    return {
        "idle_rss_mib": idle.rss_mib,
        "after_rss_mib": now.rss_mib,
        "after_hwm_mib": now.hwm_mib,
    }


# -- routes -------------------------------------------------------------------------------------


async def _routes_before(world: World) -> int:
    """eth0's route count before the storm, from the routes.d run one route add causes; then
    until the daemon is quiet."""
    mark = world.stamps.poll()
    host = world.lab.ns("host")
    await run_command(["ip", "-n", host, "route", "add", "10.99.0.0/24", "via", GATEWAY])
    first = await until(world.stamps.finder(mark, state="routes", link="eth0"), 10, interval=0.01)
    await until(Quiet(world.api, 0.5), 30, interval=0.1)
    return first.route_count or 0


async def routes(count: int) -> dict[str, Any]:
    async with bench_world(bench_topology(), stamps=["routes"], scripts=NO_STARTUP_RUNS) as w:
        idle = w.memory()
        base = await _routes_before(w)
        lines = [
            f"route add 10.{100 + i // 250}.{i % 250}.0/24 via {GATEWAY} dev eth0"
            for i in range(count)
        ]
        batch = write_batch(w.work / "routes.batch", lines)
        mark = w.stamps.poll()
        window = await Window.open(w)
        await ip_batch(w.lab.ns("host"), batch)
        t_batch = time.time()
        final: Stamp = await until(
            w.stamps.finder(mark, state="routes", link="eth0", route_count=base + count),
            300,
            interval=0.005,
            message=f"routes.d run with route_count={base + count}",
        )
        measured = await window.close(w)
        runs = w.stamps.matching(mark, state="routes", link="eth0")
        return {
            "scenario": f"routes {count:,}",
            "operations": count,
            "batch_s": t_batch - window.t0,
            "final_script_s": final.t - window.t0,
            "final_script_after_batch_s": final.t - t_batch,
            "routes_d_runs": len(runs),
            "routes_d_runs_before_final": sum(1 for r in runs if r.t < final.t),
            **measured,
            **_memory(w, idle),
        }


# -- addresses ----------------------------------------------------------------------------------


class SameAddresses:
    """wait_until predicate: the time.time() at which the daemon's addresses were *expected*.

    The cheap status count is checked first; the full list only when the count is right.
    """

    def __init__(self, api: NsApi, expected: set[tuple[str, str, int]]) -> None:
        self.api = api
        self.expected = expected
        self.full_checks = 0

    async def __call__(self) -> float | None:
        counts = (await self.api.status())["counts"]
        if counts["addresses"] != len(self.expected):
            return None
        self.full_checks += 1
        interfaces = await self.api.data("/api/v1/interfaces")
        have = {
            (i["name"], a["address"], int(a["prefixlen"]))
            for i in interfaces
            for a in i["addresses"]
        }
        return time.time() if have == self.expected else None


def _address_lines(count: int) -> tuple[list[str], int, int]:
    """The storm's ``ip -batch`` lines: (lines, adds, deletes)."""
    adds, dels = count // 2 + KEEP // 2, count - count // 2 - KEEP // 2
    names = [f"10.200.{i // 250}.{i % 250 + 1}" for i in range(adds)]
    lines = [f"addr add {a}/32 dev eth0" for a in names]
    lines += [f"addr del {a}/32 dev eth0" for a in names[:dels]]
    return lines, adds, dels


async def addresses(count: int, rcvbuf: int | None) -> dict[str, Any]:
    system = {"netlink_rcvbuf": rcvbuf} if rcvbuf else {}
    async with bench_world(bench_topology(), system=system) as w:
        host, idle = w.lab.ns("host"), w.memory()
        await until(SameAddresses(w.api, await kernel_addresses(host)), 10, interval=0.05)
        await until(Quiet(w.api, 0.5), 30, interval=0.1)
        lines, adds, dels = _address_lines(count)
        batch = write_batch(w.work / "addrs.batch", lines)
        window = await Window.open(w)
        await ip_batch(host, batch)
        t_batch = time.time()
        same = SameAddresses(w.api, await kernel_addresses(host))
        matched = await until(same, 300, interval=0.02, message="same addresses")
        measured = await window.close(w)
        return {
            "scenario": f"addresses {count:,}" + (f" (rcvbuf {rcvbuf:,} B)" if rcvbuf else ""),
            "operations": len(lines),
            "adds": adds,
            "deletes": dels,
            "rcvbuf": rcvbuf,
            "batch_s": t_batch - window.t0,
            "state_matched_s": matched - window.t0,
            "state_matched_after_batch_s": matched - t_batch,
            "full_compares": same.full_checks,
            **measured,
            **_memory(w, idle),
        }


# -- flaps --------------------------------------------------------------------------------------


class Settled:
    """wait_until predicate: neither events nor script runs changed for *window* seconds."""

    def __init__(self, api: NsApi, stamps: StampLog, window: float) -> None:
        self.quiet = Quiet(api, window)
        self.stamps = stamps
        self.window = window
        self._count = -1
        self._since = time.monotonic()

    async def __call__(self) -> bool:
        count = self.stamps.poll()
        now = time.monotonic()
        if count != self._count:
            self._count, self._since = count, now
        events_quiet = await self.quiet()
        return events_quiet and now - self._since >= self.window


async def flaps(count: int) -> dict[str, Any]:
    states = ["carrier", "no-carrier"]
    async with (
        bench_world(bench_topology(), stamps=states, scripts=NO_STARTUP_RUNS) as w,
        w.lab.ipr("peer") as ipr,
    ):
        idle = w.memory()
        index = int((await ipr.link_lookup(ifname="eth0"))[0])
        mark = w.stamps.poll()
        window = await Window.open(w)
        for _ in range(count):
            await ipr.link("set", index=index, state="down")
            await ipr.link("set", index=index, state="up")
        t_end = time.time()
        await until(Settled(w.api, w.stamps, 1.0), 120, interval=0.1)
        measured = await window.close(w, caught_up=False)
        runs = w.stamps.matching(mark, link="eth0")
        last = runs[-1] if runs else None
        return {
            "scenario": f"flaps {count} (down+up)",
            "operations": 2 * count,
            "trigger_loop_s": t_end - window.t0,
            "script_runs": len(runs),
            "no_carrier_runs": sum(1 for r in runs if r.state == "no-carrier"),
            "carrier_runs": sum(1 for r in runs if r.state == "carrier"),
            "last_run_after_last_trigger_s": (last.t - t_end) if last else None,
            "last_run_state": last.state if last else None,
            **measured,
            **_memory(w, idle),
        }


# -- command line -------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--routes",
        type=int,
        action="append",
        help="route adds per storm, repeatable (default 1000 and 10000; 0 skips)",
    )
    parser.add_argument(
        "--addresses",
        type=int,
        action="append",
        help="address adds+deletes per storm, repeatable (default 20000; 0 skips)",
    )
    parser.add_argument("--rcvbuf", type=int, help="system.netlink_rcvbuf for the address storm")
    parser.add_argument("--flaps", type=int, default=200, help="down+up pairs (0 to skip)")
    parser.add_argument("--flap-runs", type=int, default=3)


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    results = []
    for count in args.routes or [1000, 10_000]:
        if count > 0:  # --routes 0: no route storm
            results.append(await routes(count))
    for count in args.addresses or [20_000]:
        if count > 0:
            results.append(await addresses(count, args.rcvbuf))
    for _ in range(args.flap_runs if args.flaps else 0):
        results.append(await flaps(args.flaps))
    print(report(results), flush=True)
    params = {
        "routes": args.routes or [1000, 10_000],
        "addresses": args.addresses or [20_000],
        "rcvbuf": args.rcvbuf,
        "flaps": args.flaps,
        "flap_runs": args.flap_runs,
    }
    path = write_results("burst", params, {"scenarios": results}, out)
    print(f"\nresults: {path}\n", flush=True)
    return results
