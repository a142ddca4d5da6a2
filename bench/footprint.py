"""Footprint beside the peer netevd replaces, in the same run: start-up and idle memory of
netevd (API and metrics on, as installed; both off) and of the real networkd-dispatcher 2.2.3;
``netevd wait --any --state routable`` when it already holds, beside
``systemd-networkd-wait-online --any``.

Lab: ``host`` and ``peer`` joined by veth ``eth0`` (ifindexes 10/11); the real systemd-networkd
runs in ``host`` (its own bus) and makes eth0 routable (10.214.9.1/24 via .2). No scripts.
Every round starts each contender once, in an order that rotates from round to round, so the
machine's load falls on all of them alike:

- netevd: spawn of ``ip netns exec host python -m netevd run`` → its ``ready`` line (first dump,
  replay and, when on, the API listening);
- networkd-dispatcher: spawn of ``nsenter -t NETWORKD -n -m env -i python3 networkd-dispatcher``
  → ``Startup complete`` (signal receiver registered, its ``networkctl list`` done), no ``-T``;
- memory of each after a quiet second: VmRSS, Pss and USS (Private_Clean + Private_Dirty, from
  ``/proc/PID/smaps_rollup``); the process is then stopped;
- waits, process start → exit 0, each spawned by ``nsenter -t NETWORKD -n`` (``-m`` too for
  wait-online, which reads networkd's ``/run/systemd/netif``): ``netevd wait`` while the first
  netevd answers on its API, ``netevd wait`` with no daemon (it reads the kernel), and
  ``systemd-networkd-wait-online --any``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds, daemon_config, new_lab_prefix
from bench.results import RESULTS_DIR, write_results
from bench.stats import Summary, fmt, table
from lab import Lab, NetworkdNode, host_peer
from lab.daemons.networkd import networkd_dispatcher_available
from lab.netevd import NetevdProcess, ScriptDirs, daemon_python, write_config

WAIT_ONLINE = "/lib/systemd/systemd-networkd-wait-online"
NETWORK = (
    "[Match]\nName=eth0\n\n[Network]\nAddress=10.214.9.1/24\nGateway=10.214.9.2\n"
    "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
)
IDLE_S = 1.0  # the quiet window before memory is read
DEFAULT = "netevd, API + metrics on"
MINIMAL = "netevd, API + metrics off"
DISPATCHER = "networkd-dispatcher 2.2.3"
WAIT_API = "netevd wait (daemon answering)"
WAIT_KERNEL = "netevd wait (no daemon: kernel)"
WAIT_ONLINE_NAME = "systemd-networkd-wait-online --any"


@dataclass
class Bench:
    lab: Lab
    node: NetworkdNode
    configs: dict[str, Path]
    scripts: Path
    samples: dict[str, list[dict[str, float]]]

    def keep(self, name: str, sample: dict[str, float]) -> None:
        self.samples.setdefault(name, []).append(sample)

    @property
    def networkd_pid(self) -> str:
        assert self.node.networkd is not None
        return str(self.node.networkd.pid)


def footprint(pid: int) -> dict[str, float]:
    """VmRSS, Pss and USS of *pid*, MiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        values[key] = int(rest.split()[0])
    uss = values["Private_Clean"] + values["Private_Dirty"]
    return {"rss_mib": values["Rss"] / 1024, "pss_mib": values["Pss"] / 1024, "uss_mib": uss / 1024}


def _ready(t0: float, pid: int) -> dict[str, float]:
    """Wall time since *t0* and the process's CPU time so far (which the load of a shared
    machine stretches less), ms."""
    return {"ready_ms": (time.monotonic() - t0) * 1e3, "cpu_ms": cpu_seconds(pid) * 1e3}


async def _netevd(bench: Bench, name: str) -> None:
    proc = NetevdProcess(bench.lab.ns("host"), bench.configs[name])
    t0 = time.monotonic()
    await bench.lab.start_process(proc)
    try:
        await proc.wait_ready(60)
        ready = _ready(t0, proc.pid)
        await asyncio.sleep(IDLE_S)  # the idle window being measured
        bench.keep(name, {**ready, **footprint(proc.pid)})
        if name == DEFAULT:
            bench.keep(WAIT_API, await _wait(bench, _netevd_wait(bench)))
    finally:
        await proc.stop()


async def _dispatcher(bench: Bench) -> None:
    t0 = time.monotonic()
    proc = await bench.node.start_dispatcher(bench.scripts, startup_triggers=False, timeout=60)
    try:
        ready = _ready(t0, proc.pid)
        await asyncio.sleep(IDLE_S)  # the idle window being measured
        bench.keep(DISPATCHER, {**ready, **footprint(proc.pid)})
    finally:
        await proc.stop()


def _netevd_wait(bench: Bench) -> list[str]:
    python = daemon_python()
    wait = [python, "-m", "netevd", "wait", "--any", "--state", "routable", "--timeout", "30"]
    return ["nsenter", "-t", bench.networkd_pid, "-n", *wait]


async def _wait(bench: Bench, argv: list[str]) -> dict[str, float]:
    """Process start → exit of *argv*, which must exit 0."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    elapsed = (time.monotonic() - t0) * 1e3
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[4:]} exited {proc.returncode}: {err.decode()[-300:]}")
    return {"exit_ms": elapsed}


async def _waits_without_daemon(bench: Bench) -> None:
    bench.keep(WAIT_KERNEL, await _wait(bench, _netevd_wait(bench)))
    online = ["nsenter", "-t", bench.networkd_pid, "-n", "-m", WAIT_ONLINE, "--any"]
    bench.keep(WAIT_ONLINE_NAME, await _wait(bench, [*online, "--timeout", "30"]))


def contenders(bench: Bench) -> list[Callable[[], Awaitable[None]]]:
    return [
        lambda: _netevd(bench, DEFAULT),
        lambda: _netevd(bench, MINIMAL),
        lambda: _dispatcher(bench),
        lambda: _waits_without_daemon(bench),
    ]


async def run(rounds: int) -> dict[str, Any]:
    if reason := networkd_dispatcher_available():
        raise RuntimeError(f"networkd-dispatcher cannot run here: {reason}")
    with tempfile.TemporaryDirectory(prefix="netevd-bench-") as tmp:
        work = Path(tmp)
        dirs = ScriptDirs(work / "scripts")
        configs = {
            DEFAULT: write_config(work / "default.yaml", daemon_config(dirs, api=True)),
            MINIMAL: write_config(
                work / "minimal.yaml", daemon_config(dirs, api=False, metrics={"enabled": False})
            ),
        }
        topology = host_peer([], ["10.214.9.2/24"])
        async with (
            Lab(topology, prefix=new_lab_prefix()) as lab,
            NetworkdNode(lab.ns("host"), {"10-eth0.network": NETWORK}) as node,
        ):
            await node.wait_for("eth0", operational="routable", timeout=30)
            bench = Bench(lab, node, configs, dirs.root, {})
            steps = contenders(bench)
            await _warm_up(steps)
            bench.samples.clear()
            for i in range(rounds):
                for step in steps[i % len(steps) :] + steps[: i % len(steps)]:
                    await step()
    return {"rounds": rounds, "samples": bench.samples, **summaries(bench.samples)}


async def _warm_up(steps: list[Callable[[], Awaitable[None]]]) -> None:
    """One untimed round: the page cache holds every interpreter and library afterwards."""
    for step in steps:
        await step()


def summaries(samples: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    return {
        "summary": {
            name: {key: Summary.of([s[key] for s in found]) for key in found[0]}
            for name, found in samples.items()
        }
    }


def report(result: dict[str, Any]) -> str:
    summary = result["summary"]
    anchor = summary[DISPATCHER]
    rows = []
    for name in (DEFAULT, MINIMAL, DISPATCHER):
        s = summary[name]
        ready: Summary = s["ready_ms"]
        rows.append(
            [
                name,
                ready.n,
                *(fmt(v, 0) for v in (ready.min, ready.p50, ready.p90, ready.max)),
                f"{ready.p50 / anchor['ready_ms'].p50:.2f}x",
                fmt(s["cpu_ms"].p50, 0),
                *(fmt(s[k].p50, 1) for k in ("rss_mib", "pss_mib", "uss_mib")),
                f"{s['rss_mib'].p50 / anchor['rss_mib'].p50:.2f}x",
            ]
        )
    head = ["what", "n", "min", "p50", "p90", "max", "p50 ÷ dispatcher's", "CPU p50", "VmRSS"]
    head += ["Pss"]
    head += ["USS", "VmRSS ÷ dispatcher's"]
    start = "Start → ready (ms) and idle memory (MiB, p50), same run\n\n" + table(head, rows)
    online = summary[WAIT_ONLINE_NAME]["exit_ms"]
    waits = []
    for name in (WAIT_API, WAIT_KERNEL, WAIT_ONLINE_NAME):
        w: Summary = summary[name]["exit_ms"]
        ratio = f"{w.p50 / online.p50:.2f}x"
        waits.append([name, w.n, *(fmt(v, 0) for v in (w.min, w.p50, w.p90, w.max)), ratio])
    head = ["what", "n", "min", "p50", "p90", "max", "p50 ÷ wait-online's"]
    return start + "\n\nWait when already routable: start → exit (ms)\n\n" + table(head, waits)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=10, help="rounds of every contender (10)")


async def main(args: argparse.Namespace, out: Path = RESULTS_DIR) -> dict[str, Any]:
    result = await run(args.rounds)
    print(report(result), flush=True)
    path = write_results("footprint", {"rounds": args.rounds}, result, out)
    print(f"\nresults: {path}\n", flush=True)
    return result
