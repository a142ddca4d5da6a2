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
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import anchors
from bench.common import (
    RESULTS_DIR,
    Daemon,
    Memory,
    Metrics,
    NsApi,
    Quiet,
    StampLog,
    cpu_seconds,
    fmt,
    ip_batch,
    new_lab_prefix,
    running_daemon,
    stamp_script,
    table,
    until,
    write_batch,
    write_results,
)
from lab import Lab, Topology
from lab.build import run_command
from lab.netevd import ScriptDirs

GATEWAY = "10.214.1.2"
KEEP = 10  # addresses the address storm leaves behind


def topology() -> Topology:
    t = Topology().add_netns("host").add_netns("peer")
    t.add_veth("eth0", "host", "eth0", "peer", index=10, peer_index=11)
    t.add_address("host", "eth0", "10.214.1.1/24")
    t.add_address("peer", "eth0", "10.214.1.2/24")
    return t


def _deltas(before: Metrics, after: Metrics) -> dict[str, float]:
    def d(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    return {
        "netlink_messages": d("netevd_netlink_messages_total"),
        "overrun_resyncs": d("netevd_netlink_resyncs_total", reason="overrun"),
        "other_resyncs": d("netevd_netlink_resyncs_total", reason="reconnect"),
        "superseded_runs": d("netevd_script_runs_superseded_total"),
        "script_executions": d("netevd_script_executions_total"),
    }


def _memory(daemon: Daemon, idle: Memory) -> dict[str, Any]:
    now = daemon.memory()
    return {
        "idle_rss_mib": idle.rss_mib,
        "after_rss_mib": now.rss_mib,
        "after_hwm_mib": now.hwm_mib,
    }


# -- routes -------------------------------------------------------------------------------------


async def routes(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="netevd-bench-") as tmp:
        work = Path(tmp)
        dirs = ScriptDirs(work / "scripts")
        stamps = StampLog(work / "stamps.log")
        dirs.add_raw("routes", "50-stamp", stamp_script(stamps.path))
        async with Lab(topology(), prefix=new_lab_prefix()) as lab:
            host = lab.ns("host")
            async with running_daemon(
                lab, "host", work, dirs, scripts={"run_startup_triggers": False}
            ) as daemon:
                idle = daemon.memory()
                # One route first: its routes.d run tells what eth0 has before the storm.
                mark = stamps.poll()
                await run_command(
                    ["ip", "-n", host, "route", "add", "10.99.0.0/24", "via", GATEWAY]
                )
                first = await until(
                    stamps.finder(mark, state="routes", link="eth0"), 10, interval=0.01
                )
                base = first.route_count or 0
                await until(Quiet(daemon.api, 0.5), 30, interval=0.1)
                lines = [
                    f"route add 10.{100 + i // 250}.{i % 250}.0/24 via {GATEWAY} dev eth0"
                    for i in range(count)
                ]
                batch = write_batch(work / "routes.batch", lines)
                before, cpu0 = await daemon.api.metrics(), cpu_seconds(daemon.proc.pid)
                mark = stamps.poll()
                t0 = time.time()
                await ip_batch(host, batch)
                t_batch = time.time()
                final = await until(
                    stamps.finder(mark, state="routes", link="eth0", route_count=base + count),
                    300,
                    interval=0.005,
                    message=f"routes.d run with route_count={base + count}",
                )
                last = await daemon.api.last_event()
                after, cpu1 = await daemon.api.metrics(), cpu_seconds(daemon.proc.pid)
                runs = stamps.matching(mark, state="routes", link="eth0")
                caught = float(last["ts"]) if last else float("nan")
                counts = _deltas(before, after)
                return {
                    "scenario": f"routes {count:,}",
                    "operations": count,
                    "batch_s": t_batch - t0,
                    "caught_up_s": caught - t0,
                    "final_script_s": final.t - t0,
                    "final_script_after_batch_s": final.t - t_batch,
                    "routes_d_runs": len(runs),
                    "routes_d_runs_before_final": sum(1 for r in runs if r.t < final.t),
                    "events_per_s": counts["netlink_messages"] / (caught - t0),
                    "daemon_cpu_s": cpu1 - cpu0,
                    **counts,
                    **_memory(daemon, idle),
                }


# -- addresses ----------------------------------------------------------------------------------


async def kernel_addresses(netns: str) -> set[tuple[str, str, int]]:
    out = await run_command(["ip", "-n", netns, "-j", "addr", "show"])
    return {
        (entry["ifname"], a["local"], int(a["prefixlen"]))
        for entry in json.loads(out.stdout)
        for a in entry.get("addr_info", [])
    }


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


async def addresses(count: int, rcvbuf: int | None) -> dict[str, Any]:
    system = {"netlink_rcvbuf": rcvbuf} if rcvbuf else {}
    adds, dels = count // 2 + KEEP // 2, count - count // 2 - KEEP // 2
    with tempfile.TemporaryDirectory(prefix="netevd-bench-") as tmp:
        work = Path(tmp)
        dirs = ScriptDirs(work / "scripts")
        async with Lab(topology(), prefix=new_lab_prefix()) as lab:
            host = lab.ns("host")
            async with running_daemon(lab, "host", work, dirs, system=system) as daemon:
                idle = daemon.memory()
                start = await kernel_addresses(host)
                await until(SameAddresses(daemon.api, start), 10, interval=0.05)
                await until(Quiet(daemon.api, 0.5), 30, interval=0.1)
                names = [f"10.200.{i // 250}.{i % 250 + 1}" for i in range(adds)]
                lines = [f"addr add {a}/32 dev eth0" for a in names]
                lines += [f"addr del {a}/32 dev eth0" for a in names[:dels]]
                batch = write_batch(work / "addrs.batch", lines)
                before, cpu0 = await daemon.api.metrics(), cpu_seconds(daemon.proc.pid)
                t0 = time.time()
                await ip_batch(host, batch)
                t_batch = time.time()
                expected = await kernel_addresses(host)
                same = SameAddresses(daemon.api, expected)
                matched = await until(same, 300, interval=0.02, message="same addresses")
                last = await daemon.api.last_event()
                after, cpu1 = await daemon.api.metrics(), cpu_seconds(daemon.proc.pid)
                caught = float(last["ts"]) if last else float("nan")
                counts = _deltas(before, after)
                return {
                    "scenario": f"addresses {count:,}"
                    + (f" (rcvbuf {rcvbuf:,} B)" if rcvbuf else ""),
                    "operations": len(lines),
                    "adds": adds,
                    "deletes": dels,
                    "rcvbuf": rcvbuf,
                    "batch_s": t_batch - t0,
                    "caught_up_s": caught - t0,
                    "state_matched_s": matched - t0,
                    "state_matched_after_batch_s": matched - t_batch,
                    "full_compares": same.full_checks,
                    "events_per_s": counts["netlink_messages"] / (caught - t0),
                    "daemon_cpu_s": cpu1 - cpu0,
                    **counts,
                    **_memory(daemon, idle),
                }


# -- flaps --------------------------------------------------------------------------------------


def _link_messages(metrics: Metrics) -> float:
    return metrics.total("netevd_netlink_messages_total", type="RTM_NEWLINK")


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
    with tempfile.TemporaryDirectory(prefix="netevd-bench-") as tmp:
        work = Path(tmp)
        dirs = ScriptDirs(work / "scripts")
        stamps = StampLog(work / "stamps.log")
        for state in ("carrier", "no-carrier"):
            dirs.add_raw(state, "50-stamp", stamp_script(stamps.path))
        async with (
            Lab(topology(), prefix=new_lab_prefix()) as lab,
            running_daemon(
                lab, "host", work, dirs, scripts={"run_startup_triggers": False}
            ) as daemon,
            lab.ipr("peer") as ipr,
        ):
            idle = daemon.memory()
            index = int((await ipr.link_lookup(ifname="eth0"))[0])
            before, cpu0 = await daemon.api.metrics(), cpu_seconds(daemon.proc.pid)
            mark = stamps.poll()
            t0 = time.time()
            for _ in range(count):
                await ipr.link("set", index=index, state="down")
                await ipr.link("set", index=index, state="up")
            t_end = time.time()
            await until(Settled(daemon.api, stamps, 1.0), 120, interval=0.1)
            after, cpu1 = await daemon.api.metrics(), cpu_seconds(daemon.proc.pid)
            runs = stamps.matching(mark, link="eth0")
            last = runs[-1] if runs else None
            counts = _deltas(before, after)
            return {
                "scenario": f"flaps {count} (down+up)",
                "operations": 2 * count,
                "trigger_loop_s": t_end - t0,
                "script_runs": len(runs),
                "no_carrier_runs": sum(1 for r in runs if r.state == "no-carrier"),
                "carrier_runs": sum(1 for r in runs if r.state == "carrier"),
                "last_run_after_last_trigger_s": (last.t - t_end) if last else None,
                "last_run_state": last.state if last else None,
                "daemon_cpu_s": cpu1 - cpu0,
                "link_messages": _link_messages(after) - _link_messages(before),
                **counts,
                **_memory(daemon, idle),
            }


# -- report -------------------------------------------------------------------------------------


def report(results: list[dict[str, Any]]) -> str:
    storms = [r for r in results if not r["scenario"].startswith("flaps")]
    flap_runs = [r for r in results if r["scenario"].startswith("flaps")]
    out = []
    if storms:
        head = [
            "scenario",
            "ip -batch (s)",
            "caught up (s)",
            "final picture (s)",
            "after batch (s)",
            "kernel ops/s",
            "messages handled",
            "messages/s",
            "overrun resyncs",
            "routes.d runs",
            "daemon CPU (s)",
            "RSS idle → after / HWM (MiB)",
        ]
        rows = []
        for r in storms:
            final = r.get("final_script_s", r.get("state_matched_s"))
            after = r.get("final_script_after_batch_s", r.get("state_matched_after_batch_s"))
            rows.append(
                [
                    r["scenario"],
                    fmt(r["batch_s"]),
                    fmt(r["caught_up_s"]),
                    fmt(final),
                    fmt(after),
                    fmt(int(r["operations"] / r["caught_up_s"])),
                    fmt(int(r["netlink_messages"])),
                    fmt(int(r["events_per_s"])),
                    fmt(int(r["overrun_resyncs"])),
                    fmt(r.get("routes_d_runs")),
                    fmt(r["daemon_cpu_s"]),
                    f"{fmt(r['idle_rss_mib'], 1)} → {fmt(r['after_rss_mib'], 1)} / "
                    f"{fmt(r['after_hwm_mib'], 1)}",
                ]
            )
        out.append(
            "Storms (times from just before ip -batch started; 'final picture' is the routes.d "
            "run with the final route_count, or the API matching ip -j addr)\n\n"
            + table(head, rows)
        )
    if flap_runs:
        head = [
            "tool",
            "trigger loop (s)",
            "script runs (no-carrier / carrier)",
            "last run after last trigger (ms)",
            "last state",
            "superseded",
            "daemon CPU (s)",
        ]
        rows = []
        for r in flap_runs:
            rows.append(
                [
                    f"**netevd**, {r['scenario']}",
                    fmt(r["trigger_loop_s"]),
                    f"{r['script_runs']} ({r['no_carrier_runs']} / {r['carrier_runs']})",
                    fmt((r["last_run_after_last_trigger_s"] or 0) * 1e3, 0),
                    r["last_run_state"],
                    fmt(int(r["superseded_runs"])),
                    fmt(r["daemon_cpu_s"]),
                ]
            )
        for tool, settle in anchors.FLAP_SETTLE_MS.items():
            cells = " / ".join(f"{v:,}" for v in settle)
            rows.append([f"{tool} (anchor, 200 flaps)", "0.18-0.36", "-", cells, "-", "-", "-"])
        out.append("Carrier flaps back to back\n\n" + table(head, rows))
    return "\n\n".join(out)


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
