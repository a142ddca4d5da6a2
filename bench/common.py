"""What every benchmark shares: the daemon in a lab namespace, stamp scripts, the API as seen
from inside the namespace, /proc readings, statistics, tables and result files."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pyroute2
from prometheus_client.parser import text_string_to_metric_families
from pyroute2 import netns as pr_netns

from lab import Lab, wait_until
from lab.build import run_command
from lab.errors import LabError
from lab.naming import new_prefix
from lab.netevd import NetevdProcess, ScriptDirs, netevd_config, write_config
from lab.netns import netns_path
from lab.wait import WaitTimeout
from netevd import __version__

X = TypeVar("X")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
API_PORT = 9090
PREFIX_STEM = "nb"  # lab prefixes look like nbk2q9-

# -- waiting ---------------------------------------------------------------------------------------


async def until(
    check: Callable[[], Awaitable[X | None]],
    timeout: float,
    *,
    interval: float = 0.05,
    message: str | None = None,
) -> X:
    """lab.wait.wait_until for an async predicate that returns a value or None/False."""
    predicate: Callable[[], X | Awaitable[X | None] | None] = check
    found = await wait_until(predicate, timeout, interval, message)
    if found is None:  # wait_until returns only a truthy value
        raise WaitTimeout(message or "condition")
    return found


# -- statistics ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), like the anchor study."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """min / p50 / p90 / p99 / max / mean of a sample, in the sample's unit."""

    n: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(
            n=len(values),
            min=min(values),
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            max=max(values),
            mean=sum(values) / len(values),
        )

    def cells(self, digits: int = 2) -> list[str]:
        return [fmt(v, digits) for v in (self.min, self.p50, self.p90, self.p99, self.max)]


def fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


# -- output ----------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (so a run's output can be pasted into docs/benchmarks.md as it is)."""
    text_rows = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in text_rows]
    return "\n".join(out)


def _command_output(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else ""


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError):
        mem_kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "mem_total_mib": round(mem_kib / 1024),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyroute2": getattr(pyroute2, "__version__", "unknown"),
        "iproute2": _command_output(["ip", "-V"]),
        "bash": _command_output(["bash", "--version"]),
        "netevd": __version__,
    }


def write_results(
    name: str, params: Mapping[str, object], results: Mapping[str, object], out_dir: Path
) -> Path:
    """``<out_dir>/<name>-<UTC time>.json`` with the machine, the parameters and the results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out_dir / f"{name}-{stamp}.json"
    document = {
        "benchmark": name,
        "finished": stamp,
        "machine": machine(),
        "params": dict(params),
        "results": dict(results),
    }
    path.write_text(json.dumps(_plain(document), indent=2, allow_nan=False) + "\n")
    return path


def _plain(value: object) -> object:
    """JSON-ready: dataclasses as objects, NaN (no sample) as null."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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


# -- stamp scripts ---------------------------------------------------------------------------------

# The run's own start time comes first. $EPOCHREALTIME is a bash builtin (no fork), exactly as in
# the anchor study's ts.sh; "date" takes it with `date +%s.%N` (a fork and exec of date) instead.
STAMP_SCRIPT = """#!/bin/bash
# netevd bench stamp: when this run started, then what fired it.
{clock}
rc=-
[[ ${{NETEVD_JSON:-}} =~ \\"route_count\\":([0-9]+) ]] && rc=${{BASH_REMATCH[1]}}
printf '%s %s %s %s %s %s\\n' "$t" "${{STATE:--}}" "${{LINK:--}}" "${{NETEVD_SEQ:--}}" \\
  "${{EVENT:--}}" "$rc" >> {log}
"""
CLOCKS = {"bash": "t=$EPOCHREALTIME", "date": "t=$(date +%s.%N)"}


def stamp_script(log: Path, clock: str = "bash") -> str:
    return STAMP_SCRIPT.format(clock=CLOCKS[clock], log=log)


@dataclass(frozen=True)
class Stamp:
    """One script run as the stamp script recorded it."""

    t: float  # CLOCK_REALTIME seconds when the script started
    state: str
    link: str
    seq: int | None
    event: str
    route_count: int | None


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


class StampLog:
    """The stamp scripts' log, read incrementally (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[Stamp] = []
        self._offset = 0
        self._partial = b""

    def poll(self) -> int:
        """Read what was appended; returns how many records there are now."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return len(self.records)
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            parts = raw.decode(errors="replace").split(" ")
            if len(parts) != 6:
                continue
            t, state, link, seq, event, rc = parts
            self.records.append(
                Stamp(float(t), state, link, _int_or_none(seq), event, _int_or_none(rc))
            )
        return len(self.records)

    def matching(self, start: int = 0, **want: object) -> list[Stamp]:
        self.poll()
        return [r for r in self.records[start:] if all(getattr(r, k) == v for k, v in want.items())]

    def finder(self, start: int, **want: object) -> Callable[[], Awaitable[Stamp | None]]:
        """A predicate for until(): the first record from *start* on that matches *want*."""

        async def first() -> Stamp | None:
            found = self.matching(start, **want)
            return found[0] if found else None

        return first


# -- the API, from inside the namespace ------------------------------------------------------------


def socket_in_netns(netns: str, family: int, kind: int, proto: int) -> socket.socket:
    """A socket that lives in namespace *netns*; a short-lived thread enters it to make it."""
    made: list[socket.socket] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            pr_netns.setns(str(netns_path(netns)), flags=0)
            made.append(socket.socket(family, kind, proto))
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=worker, name=f"setns-{netns}")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return made[0]


class NsApi:
    """The daemon's REST API on the namespace's loopback, reached without touching the host."""

    def __init__(self, netns: str, port: int = API_PORT) -> None:
        self.base = f"http://127.0.0.1:{port}"

        def factory(addr_info: tuple[Any, ...]) -> socket.socket:
            return socket_in_netns(netns, addr_info[0], addr_info[1], addr_info[2])

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(socket_factory=factory),
            timeout=aiohttp.ClientTimeout(total=60),
        )

    async def close(self) -> None:
        await self.session.close()

    async def data(self, path: str) -> Any:
        async with self.session.get(self.base + path) as response:
            body = await response.json()
            if response.status != 200:
                raise LabError(f"GET {path}: {response.status} {body}")
            return body["data"]

    async def status(self) -> dict[str, Any]:
        found: dict[str, Any] = await self.data("/api/v1/status")
        return found

    async def event_ts(self, seq: int) -> float | None:
        """When the engine handled event *seq* (its ``ts``), while it is in the ring buffer."""
        found = await self.data(f"/api/v1/events?since={seq - 1}&limit=1")
        return float(found[0]["ts"]) if found and found[0]["seq"] == seq else None

    async def last_event(self) -> dict[str, Any] | None:
        found = await self.data("/api/v1/events?limit=1")
        return dict(found[-1]) if found else None

    async def metrics(self) -> Metrics:
        async with self.session.get(self.base + "/metrics") as response:
            return Metrics.parse(await response.text())


@dataclass
class Metrics:
    """Prometheus samples by (name, sorted labels)."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Metrics:
        found = cls()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                found.samples[key] = float(sample.value)
        return found

    def total(self, name: str, **labels: str) -> float:
        """Sum of *name* over the samples that carry *labels*."""
        want = set(labels.items())
        return sum(v for (n, lab), v in self.samples.items() if n == name and want <= set(lab))

    def histogram(self, name: str, **labels: str) -> Histogram:
        want = set(labels.items())
        buckets: list[tuple[float, float]] = []
        for (n, lab), value in self.samples.items():
            if n == f"{name}_bucket" and want <= set(lab):
                buckets.append((float(dict(lab)["le"]), value))
        buckets.sort()
        return Histogram(
            buckets, self.total(f"{name}_count", **labels), self.total(f"{name}_sum", **labels)
        )


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, float]]  # (upper bound, cumulative count)
    count: float
    sum: float

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else math.nan

    def quantile(self, q: float) -> float:
        """Prometheus' histogram_quantile: linear inside the bucket that holds the rank."""
        if not self.count or not self.buckets:
            return math.nan
        rank = q * self.count
        lower, below = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower
                inside = cumulative - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
            lower, below = bound, cumulative
        return lower


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


# -- the daemon ------------------------------------------------------------------------------------


def new_lab_prefix() -> str:
    return new_prefix(PREFIX_STEM)


def daemon_config(
    dirs: ScriptDirs, *, api: bool = True, **sections: Mapping[str, Any]
) -> dict[str, Any]:
    """The lab's daemon config at the production log level, with the API on the namespace's
    loopback when *api* (as a default install has it)."""
    system = {"log_level": "info", **sections.pop("system", {})}
    api_section = (
        {"enabled": True, "bind_address": "127.0.0.1", "port": API_PORT}
        if api
        else {"enabled": False}
    )
    return netevd_config(dirs, system=system, api=api_section, **sections)


@dataclass
class Daemon:
    proc: NetevdProcess
    api: NsApi
    netns: str

    def memory(self) -> Memory:
        return memory(self.proc.pid)


@contextlib.asynccontextmanager
async def running_daemon(
    lab: Lab,
    ns: str,
    workdir: Path,
    dirs: ScriptDirs,
    *,
    ready_timeout: float = 60.0,
    **sections: Mapping[str, Any],
) -> AsyncIterator[Daemon]:
    """The real netevd in lab namespace *ns*, READY, with its API; stopped on the way out."""
    config = write_config(workdir / "netevd.yaml", daemon_config(dirs, api=True, **sections))
    proc = await lab.start_process(NetevdProcess(lab.ns(ns), config))
    api = NsApi(lab.ns(ns))
    try:
        await proc.wait_ready(ready_timeout)
        yield Daemon(proc, api, lab.ns(ns))
    finally:
        await api.close()
        await proc.stop()


# -- kernel side -----------------------------------------------------------------------------------


def write_batch(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


async def ip_batch(netns: str, path: Path, timeout: float = 600.0) -> None:
    """``ip -n NETNS -batch FILE``: one ``ip`` process for every line of the file."""
    await run_command(["ip", "-n", netns, "-batch", str(path)], timeout=timeout)


async def ip_counts(netns: str) -> tuple[int, int]:
    """(links, addresses) as ``ip -j`` shows them in *netns*."""
    links = json.loads((await run_command(["ip", "-n", netns, "-j", "link", "show"])).stdout)
    addrs = json.loads((await run_command(["ip", "-n", netns, "-j", "addr", "show"])).stdout)
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
