"""Carrier change -> carrier.d / no-carrier.d script start, through the real daemon.

Topology (as in the anchor study): namespaces ``host`` and ``peer`` joined by a veth pair whose
ends have distinct ifindexes (10 in host, 11 in peer) so the kernel reports carrier loss at once;
``--same-index`` gives both ends ifindex 10, as a physical NIC behaves (see docs/benchmarks.md).
netevd watches ``eth0`` in ``host``; the bench sets the *peer* end down/up from the root
namespace, so the watched link only sees its own carrier change.

One trial: t0 = time.time() just before the netlink request (pyroute2, ACKed) or the ``ip``
fork; the latency is the stamp script's own first timestamp minus t0. The engine's ``ts`` of the
event that ran the script (from /api/v1/events, fetched after the script ran, before the next
trial) splits it into trigger -> daemon handles the event, and that -> script start.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroute2 import AsyncIPRoute

from bench import anchors
from bench.common import World, bench_topology, bench_world
from bench.results import RESULTS_DIR, write_results
from bench.stats import Summary, fmt, table
from lab import Lab, WaitTimeout
from lab.http import NsApi
from lab.net.build import run_command
from lab.wait import until

EVENTS = {"down": ("no-carrier", "carrier lost"), "up": ("carrier", "carrier gained")}
SetPeer = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Trial:
    index: int
    direction: str  # "down" | "up" (what was done to the peer)
    t0: float
    script: float | None  # the stamp script's start, CLOCK_REALTIME seconds
    engine: float | None  # the daemon's ts for the event that ran it

    @property
    def total_ms(self) -> float | None:
        return None if self.script is None else (self.script - self.t0) * 1e3

    @property
    def to_engine_ms(self) -> float | None:
        return None if self.engine is None else (self.engine - self.t0) * 1e3

    @property
    def engine_to_script_ms(self) -> float | None:
        if self.engine is None or self.script is None:
            return None
        return (self.script - self.engine) * 1e3


async def run(
    *,
    trials: int,
    trigger: str,
    same_index: bool = False,
    clock: str = "bash",
    gap: tuple[float, float] = (0.03, 0.08),
    seed: int = 1,
) -> dict[str, Any]:
    """*trials* down and *trials* up changes; returns the samples and their summaries."""
    rng = random.Random(seed)  # noqa: S311 - pacing between trials, not security
    timeout = 5.0 if same_index else 3.0
    done: list[Trial] = []
    topology = bench_topology(peer_index=10 if same_index else 11)
    states = [state for state, _ in EVENTS.values()]
    async with (
        bench_world(
            topology, stamps=states, clock=clock, scripts={"run_startup_triggers": False}
        ) as world,
        world.lab.ipr("peer") as ipr,
    ):
        set_peer = await _peer_switch(world.lab, ipr, trigger)
        for i in range(2 * trials):
            trial = await _trial(world, i, set_peer, timeout)
            done.append(trial)
            if trial.script is not None:
                # Pacing between trials, as in the anchor study (an idle gap after the script
                # line appeared), not a wait for the system.
                await asyncio.sleep(rng.uniform(*gap))
        histograms = await _daemon_histograms(world.api)
    return summarize(done, trigger, same_index, clock, histograms)


async def _peer_switch(lab: Lab, ipr: AsyncIPRoute, trigger: str) -> SetPeer:
    """Sets the peer's eth0 "down" or "up": by one ACKed netlink request, or by forking ip."""
    index = int((await ipr.link_lookup(ifname="eth0"))[0])
    peer = lab.ns("peer")

    async def by_pyroute2(direction: str) -> None:
        await ipr.link("set", index=index, state=direction)

    async def by_ip(direction: str) -> None:
        await run_command(["ip", "-n", peer, "link", "set", "eth0", direction])

    return by_pyroute2 if trigger == "pyroute2" else by_ip


async def _trial(world: World, index: int, set_peer: SetPeer, timeout: float) -> Trial:
    """One change of the peer (down on even, up on odd *index*) and the script run it caused."""
    direction = "down" if index % 2 == 0 else "up"
    state = EVENTS[direction][0]
    mark = world.stamps.poll()
    t0 = time.time()
    await set_peer(direction)
    try:
        hit = await until(
            world.stamps.finder(mark, state=state, link="eth0"),
            timeout,
            interval=0.002,
            message=f"{state}.d run for eth0",
        )
    except WaitTimeout:
        return Trial(index, direction, t0, None, None)
    engine = await world.api.event_ts(hit.seq) if hit.seq is not None else None
    return Trial(index, direction, t0, hit.t, engine)


async def _daemon_histograms(api: NsApi) -> dict[str, dict[str, float]]:
    """The daemon's own event-to-script-start histogram (no bash start-up in it), ms."""
    metrics = await api.metrics()
    found = {}
    for state in ("carrier", "no-carrier"):
        h = metrics.histogram("netevd_event_to_script_seconds", state=state)
        found[state] = {
            "count": h.count,
            "mean_ms": h.mean * 1e3,
            "p50_ms": h.quantile(0.5) * 1e3,
            "p90_ms": h.quantile(0.9) * 1e3,
        }
    return found


def summarize(
    done: list[Trial],
    trigger: str,
    same_index: bool,
    clock: str,
    histograms: dict[str, dict[str, float]],
) -> dict[str, Any]:
    per: dict[str, Any] = {}
    for direction, (state, _) in EVENTS.items():
        mine = [t for t in done if t.direction == direction]
        per[state] = {
            "trials": len(mine),
            "missed": sum(1 for t in mine if t.script is None),
            "total_ms": Summary.of([v for t in mine if (v := t.total_ms) is not None]),
            "trigger_to_engine_ms": Summary.of(
                [v for t in mine if (v := t.to_engine_ms) is not None]
            ),
            "engine_to_script_ms": Summary.of(
                [v for t in mine if (v := t.engine_to_script_ms) is not None]
            ),
            "daemon_histogram": histograms.get(state, {}),
        }
    return {
        "trigger": trigger,
        "same_index": same_index,
        "clock": clock,
        "by_state": per,
        "samples": [
            {
                "i": t.index,
                "dir": t.direction,
                "total_ms": t.total_ms,
                "to_engine_ms": t.to_engine_ms,
                "engine_to_script_ms": t.engine_to_script_ms,
            }
            for t in done
        ],
    }


def report(result: dict[str, Any]) -> str:
    trigger, same = result["trigger"], result["same_index"]
    label = "netevd" + (", equal ifindex on both veth ends" if same else "")
    if result["clock"] != "bash":
        label += f", stamp by {result['clock']}"
    rows: list[list[object]] = []
    split: list[list[object]] = []
    for state, (_, event) in (("no-carrier", EVENTS["down"]), ("carrier", EVENTS["up"])):
        data = result["by_state"][state]
        s: Summary = data["total_ms"]
        rows.append([f"**{label}**", trigger, event, s.n, *s.cells(), data["missed"]])
        for anchor in anchors.matching(trigger, event, equal_index=same):
            cells = [anchor.min, anchor.p50, anchor.p90, anchor.p99, anchor.max]
            rows.append([anchor.tool, trigger, event, anchor.n, *map(fmt, cells), "-"])
        a: Summary = data["trigger_to_engine_ms"]
        b: Summary = data["engine_to_script_ms"]
        h = data["daemon_histogram"]
        split.append(
            [
                event,
                f"{fmt(a.p50)} / {fmt(a.p90)} / {fmt(a.p99)}",
                f"{fmt(b.p50)} / {fmt(b.p90)} / {fmt(b.p99)}",
                f"{fmt(h.get('mean_ms'))} (n={fmt(int(h.get('count', 0)))})",
            ]
        )
    head = ["tool", "trigger", "event", "n", "min", "p50", "p90", "p99", "max", "missed"]
    split_head = [
        "event",
        "trigger → daemon handles event, p50/p90/p99",
        "event handled → script's first timestamp, p50/p90/p99",
        "daemon histogram mean (event → spawn)",
    ]
    return (
        f"Latency, carrier change → script start (ms), trigger {trigger}\n\n"
        + table(head, rows)
        + "\n\nWhere the time goes (ms)\n\n"
        + table(split_head, split)
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=200, help="per direction (default 200)")
    parser.add_argument(
        "--trigger",
        action="append",
        choices=("pyroute2", "ip"),
        help="how the peer is set down/up (repeatable; default: pyroute2 and ip)",
    )
    parser.add_argument(
        "--same-index",
        action="store_true",
        help="give both veth ends ifindex 10 (the kernel's 1 s carrier-loss batching)",
    )
    parser.add_argument("--clock", choices=("bash", "date"), default="bash")
    parser.add_argument("--seed", type=int, default=1)


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    results = []
    for trigger in args.trigger or ["pyroute2", "ip"]:
        result = await run(
            trials=args.trials,
            trigger=trigger,
            same_index=args.same_index,
            clock=args.clock,
            seed=args.seed,
        )
        print(report(result), flush=True)
        name = "latency-same-index" if args.same_index else "latency"
        if args.clock != "bash":
            name += f"-{args.clock}"
        params = {
            "trials_per_direction": args.trials,
            "trigger": trigger,
            "same_index": args.same_index,
            "clock": args.clock,
            "gap_s": [0.03, 0.08],
        }
        path = write_results(f"{name}-{trigger}", params, result, out)
        print(f"\nresults: {path}\n", flush=True)
        results.append(result)
    return results
