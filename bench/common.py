"""What every benchmark shares: the daemon in a lab namespace (through lab.netevd and lab.http),
waiting, /proc readings, measured windows and the kernel side (``ip -batch``)."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.stamps import StampLog, stamp_script
from lab import Lab, Topology, host_peer
from lab.http import Metrics, NsApi
from lab.net.build import ip_json, run_command
from lab.net.naming import new_prefix
from lab.netevd import Daemon, ScriptDirs, api_section, netevd_config, running_netevd
from lab.wait import until

X = TypeVar("X")
PREFIX_STEM = "nb"  # lab prefixes look like nbk2q9-
READY_TIMEOUT = 60.0

# -- waiting ---------------------------------------------------------------------------------------


class Quiet:
    """A wait_until predicate: true once the daemon's event count stood still for *window* s."""

    def __init__(self, api: NsApi, window: float) -> None:
        self.api = api
        self.window = window
        self._last: int | None = None
        self._since = time.monotonic()

    async def __call__(self) -> bool:
        total = int((await self.api.status())["counts"]["events"])
        now = time.monotonic()
        if total != self._last:
            self._last, self._since = total, now
            return False
        return now - self._since >= self.window


# -- /proc -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """Resident set size now and at its peak (``VmRSS``, ``VmHWM``), KiB."""

    rss_kib: int
    hwm_kib: int

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024

    @property
    def hwm_mib(self) -> float:
        return self.hwm_kib / 1024


def memory(pid: int) -> Memory:
    values: dict[str, int] = {}
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = text.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return Memory(values["VmRSS"], values["VmHWM"])


def cpu_seconds(pid: int) -> float:
    """utime + stime of *pid* (the daemon; its scripts are not counted), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the daemon in its lab -------------------------------------------------------------------------


def new_lab_prefix() -> str:
    return new_prefix(PREFIX_STEM)


def bench_topology(**kw: Any) -> Topology:
    """The benchmarks' lab: ``host`` (the daemon's) and ``peer`` joined by veth ``eth0`` with
    ifindexes 10/11, 10.214.1.1/24 and .2/24 on its ends; *kw* go to lab's host_peer."""
    return host_peer(["10.214.1.1/24"], ["10.214.1.2/24"], **kw)


def production(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Configuration *sections* at the production log level (info; the lab's is debug)."""
    system = {"log_level": "info", **sections.get("system", {})}
    return {**sections, "system": system}


def daemon_config(
    dirs: ScriptDirs, *, api: bool = True, **sections: Mapping[str, Any]
) -> dict[str, Any]:
    """The lab's daemon config at the production log level, with the API on the namespace's
    loopback when *api* (as a default install has it)."""
    return netevd_config(dirs, api=api_section(api), **production(sections))


@dataclass
class World:
    """One benchmark run: its work directory, lab, READY daemon (API on) and stamp log."""

    work: Path
    lab: Lab
    daemon: Daemon
    stamps: StampLog

    @property
    def api(self) -> NsApi:
        return self.daemon.http

    @property
    def pid(self) -> int:
        return self.daemon.proc.pid

    def memory(self) -> Memory:
        return memory(self.pid)


@contextlib.asynccontextmanager
async def bench_world(
    topology: Topology,
    *,
    stamps: Iterable[str] = (),
    clock: str = "bash",
    env: Mapping[str, str] | None = None,
    **sections: Mapping[str, Any],
) -> AsyncIterator[World]:
    """A temporary directory, *topology* built with a fresh prefix, and the real netevd in its
    ``host`` with a stamp script in each of the *stamps* directories (*env* added to its
    environment); all removed on the way out.
    """
    with tempfile.TemporaryDirectory(prefix="netevd-bench-") as tmp:
        work = Path(tmp)
        dirs = ScriptDirs(work / "scripts")
        log = StampLog(work / "stamps.log")
        for state in stamps:
            dirs.add_raw(state, "50-stamp", stamp_script(log.path, clock))
        async with (
            Lab(topology, prefix=new_lab_prefix()) as lab,
            running_netevd(
                lab,
                "host",
                work,
                dirs,
                api=True,
                env=env,
                ready_timeout=READY_TIMEOUT,
                **production(sections),
            ) as daemon,
        ):
            yield World(work, lab, daemon, log)


# -- measured windows ------------------------------------------------------------------------------


def metric_deltas(before: Metrics, after: Metrics) -> dict[str, float]:
    """How the daemon's own counters moved between two readings."""

    def d(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    return {
        "netlink_messages": d("netevd_netlink_messages_total"),
        "link_messages": d("netevd_netlink_messages_total", type="RTM_NEWLINK"),
        "overrun_resyncs": d("netevd_netlink_resyncs_total", reason="overrun"),
        "other_resyncs": d("netevd_netlink_resyncs_total", reason="reconnect"),
        "superseded_runs": d("netevd_script_runs_superseded_total"),
        "script_executions": d("netevd_script_executions_total"),
    }


@dataclass(frozen=True)
class Window:
    """The daemon's metrics and CPU time when a measured window opened, and its start t0
    (``time.time()``, taken last: open it just before the trigger)."""

    metrics: Metrics
    cpu: float
    t0: float

    @classmethod
    async def open(cls, world: World) -> Window:
        metrics, cpu = await world.api.metrics(), cpu_seconds(world.pid)
        return cls(metrics, cpu, time.time())

    async def close(self, world: World, *, caught_up: bool = True) -> dict[str, Any]:
        """Metric deltas and daemon CPU since opening; with *caught_up*, also when the engine
        handled its last event (its ``ts``, so not how often the bench looked) and the netlink
        messages per second up to then."""
        last = await world.api.last_event() if caught_up else None
        after, cpu = await world.api.metrics(), cpu_seconds(world.pid)
        found: dict[str, Any] = {"daemon_cpu_s": cpu - self.cpu}
        found.update(metric_deltas(self.metrics, after))
        if caught_up:
            caught = (float(last["ts"]) if last else math.nan) - self.t0
            found["caught_up_s"] = caught
            found["events_per_s"] = found["netlink_messages"] / caught
        return found


# -- kernel side -----------------------------------------------------------------------------------


def write_batch(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


async def ip_batch(netns: str, path: Path, timeout: float = 600.0) -> None:
    """``ip -n NETNS -batch FILE``: one ``ip`` process for every line of the file."""
    await run_command(["ip", "-n", netns, "-batch", str(path)], timeout=timeout)


async def ip_counts(netns: str) -> tuple[int, int]:
    """(links, addresses) as ``ip -j`` shows them in *netns*."""
    links = await ip_json(netns, "link", "show")
    addrs = await ip_json(netns, "addr", "show")
    return len(links), sum(len(entry.get("addr_info", [])) for entry in addrs)


async def wait_counts(api: NsApi, netns: str, timeout: float = 120.0) -> None:
    """Until the daemon's link and address counts are the kernel's. The kernel's are read again
    each time: link-local addresses follow carrier through linkwatch, after ``ip`` returned."""

    async def same() -> bool:
        counts = (await api.status())["counts"]
        return (counts["interfaces"], counts["addresses"]) == await ip_counts(netns)

    await until(same, timeout, interval=0.25, message=f"daemon counts = ip's in {netns}")


def veth_batches(count: int, peer_netns: str) -> tuple[list[str], list[str], list[str]]:
    """``ip -batch`` lines for *count* veth pairs ``vbN`` whose peers live in *peer_netns*:
    (create, set up here, set up there)."""
    create = [f"link add vb{i} type veth peer name vb{i} netns {peer_netns}" for i in range(count)]
    up = [f"link set vb{i} up" for i in range(count)]
    return create, up, list(up)


def require_root() -> None:
    if os.geteuid() != 0:
        sys.exit("the benchmarks create network namespaces: run them as root")
