"""Soak: the real daemon under a mixed load for a long time; is anything lost, does it stay
flat, does it stay fast?

Lab: ``host`` (the daemon's) and ``peer``; veth pairs ``fl0``..``fl19`` (carrier flapped from the
peer side, 1..10 flaps/s in all), ``ac0``..``ac9`` (an address added or deleted on one of them
every 0.1 s), ``rt0`` (1,000 route changes/s through it) and a veth ``lcN`` created every second
and deleted half a second later; host-side ifindexes differ from their peers' so carrier loss is
reported at once. Scripts in five directories: ``carrier.d`` (a stamp), ``no-carrier.d`` (slow:
0.3 s), ``link-added.d`` (fails), ``link-removed.d`` (runs past its 3 s timeout, killed),
``routable.d`` (a stamp). Two API clients poll ``/api/v1/status`` and ``/api/v1/interfaces`` at
10 req/s each; 50 clients hold ``/api/v1/events/stream``, two of which never read a byte. One
reading client keeps the event log (every event's directories and the scripts it ran).

Every 10 s: the daemon's RSS, open fds, threads (``/proc``), asyncio tasks and event-log size
(its ``/metrics``). At the end, once the load stopped and the daemon is quiet: per directory the
runs the event log implies (fired, minus what the daemon's log says was superseded) against the
runs the scripts themselves stamped (by ``NETEVD_SEQ``); for every flapping link whether its
last run saw its final carrier; the daemon's links, addresses and routes against ``ip -j``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import soak_load as load
from bench.common import Quiet, memory, new_lab_prefix, production
from bench.probes import address_divergence, route_divergence
from bench.results import RESULTS_DIR, write_results
from bench.soak_report import (
    Sample,
    carrier_latencies,
    final_states,
    flatness,
    report,
    runs_check,
    steady,
    superseded,
)
from bench.stamps import StampLog, stamp_script
from lab import Lab, Topology
from lab.http import NsApi
from lab.net.build import run_command
from lab.netevd import Daemon, ScriptDirs, running_netevd
from lab.wait import until

DIRECTORIES = {  # directory: what its script does after stamping
    "carrier": "",
    "no-carrier": "sleep 0.3\n",
    "link-added": "exit 1\n",
    "link-removed": "exec sleep 60\n",
    "routable": "",
}
SCRIPT_TIMEOUT = 3
STREAMS, DEAF_STREAMS, API_CLIENTS = 50, 2, 2
API_PORT = 9090
SAMPLE_EVERY = 10.0
# The event log, as streams filtered by the daemon: every event of each watched link, and every
# link and resync event (lcN links come and go); the route churn's 1,000 events/s stay out, so
# a recorder keeps up. The other readers take the unfiltered stream.
RECORDED = (
    *(f"?interface=fl{i}" for i in range(load.FLAP_LINKS)),
    *(f"?interface=ac{i}" for i in range(load.ADDRESS_LINKS)),
    "?type=link",
    "?type=link-removed",
    "?type=resync",
)
NO_DAD = {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"}


def topology() -> Topology:
    t = Topology().add_netns("host", sysctls=NO_DAD).add_netns("peer", sysctls=NO_DAD)
    for i in range(load.FLAP_LINKS):
        t.add_veth(f"fl{i}", "host", f"fl{i}", "peer", index=100 + i, peer_index=200 + i)
    for i in range(load.ADDRESS_LINKS):
        t.add_veth(f"ac{i}", "host", f"ac{i}", "peer", index=130 + i, peer_index=230 + i)
    t.add_veth("rt0", "host", "rt0", "peer", index=150, peer_index=250)
    t.add_address("host", "rt0", "10.214.0.1/24").add_address("peer", "rt0", "10.214.0.2/24")
    return t


def scripts(root: Path, log: Path) -> ScriptDirs:
    dirs = ScriptDirs(root)
    for state, extra in DIRECTORIES.items():
        dirs.add_raw(state, "50-stamp", stamp_script(log) + extra)
    return dirs


class Sampler:
    """The daemon's readings every SAMPLE_EVERY seconds (t from the load's start)."""

    def __init__(self, daemon: Daemon, t0: float) -> None:
        self.daemon, self.t0 = daemon, t0
        self.samples: list[Sample] = []

    async def tick(self) -> None:
        pid = self.daemon.proc.pid
        metrics = await self.daemon.http.metrics()
        threads, fds = _threads_and_fds(pid)
        self.samples.append(
            Sample(
                t=time.time() - self.t0,
                rss_kib=memory(pid).rss_kib,
                fds=fds,
                threads=threads,
                tasks=metrics.total("netevd_asyncio_tasks"),
                log_records=metrics.total("netevd_event_log_records"),
                log_bytes=metrics.total("netevd_event_log_output_bytes"),
                events=metrics.total("netevd_events_total"),
            )
        )


def _threads_and_fds(pid: int) -> tuple[int, int]:
    """The daemon's threads (``/proc/PID/status``) and open descriptors (``/proc/PID/fd``)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("Threads:", 1)[1].split()[0]), len(os.listdir(f"/proc/{pid}/fd"))


class LogTap:
    """Keeps the superseded runs the daemon logs and lets the lab forget the lines it read,
    so an hour of log stays within the lab's line cap."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.dropped: set[tuple[int, str]] = set()
        self.lines = 0

    async def tick(self) -> None:
        lines = self.daemon.proc.lines
        count = len(lines)
        self.dropped |= superseded(text for _, text in lines[:count])
        self.lines += count
        del lines[:count]


async def _kernel_carrier(netns: str) -> dict[str, bool]:
    import json

    out = await run_command(["ip", "-n", netns, "-j", "link", "show"])
    return {
        e["ifname"]: "LOWER_UP" in e.get("flags", [])
        for e in json.loads(out.stdout)
        if e["ifname"].startswith("fl")
    }


async def _link_divergence(api: NsApi, netns: str) -> int:
    import json

    out = await run_command(["ip", "-n", netns, "-j", "link", "show"])
    kernel = {(e["ifname"], e["ifindex"], "LOWER_UP" in e["flags"]) for e in json.loads(out.stdout)}
    daemon = {
        (i["name"], i["ifindex"], bool(i["carrier"])) for i in await api.data("/api/v1/interfaces")
    }
    return len(kernel ^ daemon)


async def run(duration: float, routes_per_s: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 (a load's schedule, reproducible by its seed)
    with tempfile.TemporaryDirectory(prefix="netevd-soak-") as tmp:
        work = Path(tmp)
        stamps = StampLog(work / "stamps.log")
        dirs = scripts(work / "scripts", stamps.path)
        sections = production(
            {"scripts": {"timeout": SCRIPT_TIMEOUT, "run_startup_triggers": False}}
        )
        api = {"max_streams": 64}  # the 50 streams, and room for a look from outside
        async with (
            Lab(topology(), prefix=new_lab_prefix()) as lab,
            running_netevd(lab, "host", work, dirs, api=api, ready_timeout=60, **sections) as d,
        ):
            return await _soak(lab, d, stamps, duration, routes_per_s, rng)


@dataclass
class Load:
    """Everything that loads the daemon, and the readers that keep what it did."""

    batches: list[load.Batch]
    flapper: load.Flapper
    routes: load.RouteChurn
    addrs: load.AddressChurn
    links: load.LinkChurn
    apis: list[NsApi]
    clients: list[load.ApiClient]
    recorders: list[load.StreamReader]
    firehoses: list[load.StreamReader]
    deaf: list[load.DeafStream]

    @classmethod
    async def start(cls, host: str, peer: str, routes_per_s: int, rng: random.Random) -> Load:
        batches = [await load.Batch(ns).start() for ns in (peer, host, host, host)]
        apis = [NsApi(host, API_PORT) for _ in range(API_CLIENTS + 1)]
        recorders = [load.StreamReader(apis[-1], True, q) for q in RECORDED]
        firehoses = STREAMS - DEAF_STREAMS - len(recorders)
        deaf = [load.DeafStream(host, API_PORT) for _ in range(DEAF_STREAMS)]
        for client in deaf:
            await client.open()
        return cls(
            batches,
            load.Flapper(batches[0], rng),
            load.RouteChurn(batches[1], routes_per_s),
            load.AddressChurn(batches[2]),
            load.LinkChurn(batches[3], peer),
            apis,
            [load.ApiClient(api) for api in apis[:API_CLIENTS]],
            recorders,
            [load.StreamReader(apis[-1], False) for _ in range(firehoses)],
            deaf,
        )

    def jobs(self, stop: asyncio.Event) -> list[Awaitable[Any]]:
        return [
            self.flapper.run(stop),
            load.ticking(stop, load.ROUTE_TICK, self.routes.tick),
            load.ticking(stop, 0.1, self.addrs.tick),
            load.ticking(stop, 1.0, self.links.tick),
            *(load.ticking(stop, 1 / 10, c.tick) for c in self.clients),
        ]

    async def close(self) -> None:
        for batch in self.batches:
            await batch.close()
        for client in self.deaf:
            client.close()
        for api in self.apis:
            await api.close()

    def summary(self) -> dict[str, Any]:
        answers = [a for c in self.clients for a in c.answers]
        return {
            "flap_triggers": len(self.flapper.triggers),
            "route_changes": self.routes.changes,
            "address_changes": self.addrs.changes,
            "links_created": self.links.created,
            "links_deleted": self.links.deleted,
            "api_requests": len(answers),
            "api_errors": [e for c in self.clients for e in c.errors][:20],
            "streams": {
                "recorders": len(self.recorders),
                "firehoses": len(self.firehoses),
                "deaf": len(self.deaf),
            },
            "recorder_overflows": sum(r.overflows for r in self.recorders),
            "recorder_reconnects": sum(r.reconnects for r in self.recorders),
            "firehose_reconnects": sum(r.reconnects for r in self.firehoses),
            "firehose_bytes": sum(r.received for r in self.firehoses),
        }


async def _soak(
    lab: Lab,
    daemon: Daemon,
    stamps: StampLog,
    duration: float,
    routes_per_s: int,
    rng: random.Random,
) -> dict[str, Any]:
    host, peer = lab.ns("host"), lab.ns("peer")
    await until(Quiet(daemon.http, 1.0), 60, interval=0.2)
    mixed = await Load.start(host, peer, routes_per_s, rng)
    streams_stop = asyncio.Event()
    readers = [*mixed.recorders, *mixed.firehoses]
    stream_tasks = [asyncio.create_task(r.run(streams_stop)) for r in readers]
    try:
        # every stream answered before the first change, so the event log misses none of it
        connecting = asyncio.gather(*(r.connected.wait() for r in readers))
        await asyncio.wait_for(connecting, 60)
        t0 = time.time()
        sampler, tap = Sampler(daemon, t0), LogTap(daemon)
        await _loaded(mixed, sampler, tap, duration)
        await until(_Settled(daemon.http, stamps), 300, interval=0.5, message="daemon settled")
        await tap.tick()
        result = await _checks(daemon, host, stamps, mixed.recorders, tap)
        result["daemon_log_lines"] = tap.lines
    finally:
        streams_stop.set()
        for task in stream_tasks:
            task.cancel()
        await asyncio.gather(*stream_tasks, return_exceptions=True)
        await mixed.close()
    return {**result, **_figures(mixed, sampler, stamps, t0), "duration_s": duration}


def _figures(mixed: Load, sampler: Sampler, stamps: StampLog, t0: float) -> dict[str, Any]:
    latencies, unmatched = carrier_latencies(mixed.flapper.triggers, stamps.records)
    answers = [a for c in mixed.clients for a in c.answers]
    return {
        "load": mixed.summary(),
        "flap_rates": mixed.flapper.rates,
        "carrier_unmatched": unmatched,
        "samples": sampler.samples,
        "flat": flatness(sampler.samples),
        "steady": steady(latencies, answers, t0),
    }


async def _loaded(mixed: Load, sampler: Sampler, tap: LogTap, duration: float) -> None:
    """The load for *duration* seconds, sampled; then the kernel jobs end (every flapped link
    is up again) and one last sample is taken."""
    stop = asyncio.Event()
    jobs = [
        *mixed.jobs(stop),
        load.ticking(stop, SAMPLE_EVERY, sampler.tick),
        load.ticking(stop, 5.0, tap.tick),
    ]
    runner = asyncio.gather(*jobs)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(runner), duration)  # the soak's length
    finally:
        stop.set()
        await runner
    await sampler.tick()


class _Settled:
    """Neither the daemon's events nor the scripts' stamps moved for the script timeout + 1 s."""

    def __init__(self, api: NsApi, stamps: StampLog) -> None:
        self.quiet = Quiet(api, SCRIPT_TIMEOUT + 1.0)
        self.stamps = stamps
        self._count, self._since = -1, time.monotonic()

    async def __call__(self) -> bool:
        count, now = self.stamps.poll(), time.monotonic()
        if count != self._count:
            self._count, self._since = count, now
        return await self.quiet() and now - self._since >= SCRIPT_TIMEOUT + 1.0


async def _checks(
    daemon: Daemon,
    host: str,
    stamps: StampLog,
    recorders: list[load.StreamReader],
    tap: LogTap,
) -> dict[str, Any]:
    stamps.poll()
    fired = {seq: found for r in recorders for seq, found in r.fired.items()}
    reported = {ran for r in recorders for ran in r.ran}
    return {
        "runs": runs_check(fired, tap.dropped, stamps.records, list(DIRECTORIES)),
        "daemon_reported_runs": len(reported),
        "final": final_states(stamps.records, await _kernel_carrier(host)),
        "divergence": {
            "links": await _link_divergence(daemon.http, host),
            "addresses": await address_divergence(daemon.http, host),
            "routes": await route_divergence(daemon.http, host),
        },
    }


# -- command line -------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration", type=float, default=600.0, help="seconds of load (default 600: 10 min)"
    )
    parser.add_argument("--routes-per-s", type=int, default=1000, help="route changes a second")
    parser.add_argument("--seed", type=int, default=21, help="the flaps' random seed")


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> dict[str, Any]:
    result = await run(args.duration, args.routes_per_s, args.seed)
    print(report(result), flush=True)
    params = {"duration_s": args.duration, "routes_per_s": args.routes_per_s, "seed": args.seed}
    path = write_results("soak", params, result, out)
    print(f"\nresults: {path}\n", flush=True)
    return result
