"""What a soak run found: nothing lost (from the event log and the scripts' own stamps), flat
(slopes of the 10 s samples after the first minute), steady (per-minute percentiles).

``python -m bench.soak_report RESULTS.json`` prints a finished run's report again from its
result file (the flatness recomputed from the samples)."""

from __future__ import annotations

import bisect
import json
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stamps import Stamp
from bench.stats import fmt, percentile, table

SUPERSEDED = re.compile(r"script\.superseded link=(\S+) dir=(\S+) seq=(\d+) by=(\d+)")
WARMUP_S = 60.0  # the first minute: start-up allocations, caches filling; not in the slopes


@dataclass(frozen=True)
class Sample:
    """One 10 s reading of the daemon."""

    t: float  # seconds since the load started
    rss_kib: int
    fds: int
    threads: int
    tasks: float
    log_records: float
    log_bytes: float
    events: float


def superseded(lines: Iterable[str]) -> set[tuple[int, str]]:
    """(seq, directory) of every run the daemon's log says a newer state replaced."""
    found = set()
    for text in lines:
        if match := SUPERSEDED.search(text):
            found.add((int(match[3]), _dir(match[2])))
    return found


def _dir(name: str) -> str:
    return name.removesuffix(".d")


def runs_check(
    fired: Mapping[int, tuple[str, tuple[str, ...]]],
    dropped: set[tuple[int, str]],
    stamps: Sequence[Stamp],
    directories: Sequence[str],
) -> dict[str, Any]:
    """Per directory: what the event log implies (fired, minus what was superseded) against
    what the scripts themselves recorded (their NETEVD_SEQ), run for run."""
    first = min(fired) if fired else 0
    expected = {
        (seq, _dir(d)) for seq, (_, dirs) in fired.items() for d in dirs if _dir(d) in directories
    }
    ran = {(s.seq, s.state) for s in stamps if s.seq is not None and s.seq >= first}
    per_dir = {}
    for name in directories:
        want = {k for k in expected if k[1] == name} - dropped
        have = {k for k in ran if k[1] == name}
        per_dir[name] = {
            "fired": sum(1 for k in expected if k[1] == name),
            "superseded": sum(1 for k in dropped if k[1] == name),
            "expected": len(want),
            "ran": len(have),
            "missing": len(want - have),
            "unexpected": len(have - want),
        }
    return {"events_recorded": len(fired), "directories": per_dir}


def final_states(stamps: Sequence[Stamp], kernel: Mapping[str, bool]) -> dict[str, Any]:
    """For every flapping link: did its last carrier/no-carrier run see the kernel's final
    carrier?"""
    last: dict[str, str] = {}
    for stamp in sorted(stamps, key=lambda s: s.t):
        if stamp.state in ("carrier", "no-carrier"):
            last[stamp.link] = stamp.state
    wrong = sorted(
        name
        for name, carrier in kernel.items()
        if last.get(name) != ("carrier" if carrier else "no-carrier")
    )
    return {"links": len(kernel), "last_run_wrong": wrong}


def carrier_latencies(
    triggers: Sequence[tuple[float, str, str]], stamps: Sequence[Stamp]
) -> tuple[list[tuple[float, float]], int]:
    """(trigger time, seconds to the first matching script start) for each flap trigger whose
    run started before the link's next trigger; and how many had none (superseded)."""
    runs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for stamp in stamps:
        runs[(stamp.link, stamp.state)].append(stamp.t)
    for times in runs.values():
        times.sort()
    by_link: dict[str, list[float]] = defaultdict(list)
    for t, link, _ in triggers:
        by_link[link].append(t)
    found, unmatched = [], 0
    for t, link, state in triggers:
        nxt = by_link[link]
        after = (
            nxt[bisect.bisect_right(nxt, t)] if bisect.bisect_right(nxt, t) < len(nxt) else math.inf
        )
        times = runs[(link, state)]
        i = bisect.bisect_left(times, t)
        if i < len(times) and times[i] < after:
            found.append((t, times[i] - t))
        else:
            unmatched += 1
    return found, unmatched


def per_minute(points: Iterable[tuple[float, float]], t0: float) -> dict[int, list[float]]:
    minutes: dict[int, list[float]] = defaultdict(list)
    for t, value in points:
        minutes[int((t - t0) // 60)].append(value)
    return dict(minutes)


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per minute."""
    if len(points) < 2:
        return math.nan
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    return 60 * sxy / sxx if sxx else math.nan


def flatness(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """Slope per minute and range of each reading after the first minute."""
    late = [s for s in samples if s.t >= WARMUP_S]
    readings = {
        "rss_mib": [(s.t, s.rss_kib / 1024) for s in late],
        "fds": [(s.t, float(s.fds)) for s in late],
        "threads": [(s.t, float(s.threads)) for s in late],
        "tasks": [(s.t, s.tasks) for s in late],
        "event_log_records": [(s.t, s.log_records) for s in late],
        "event_log_output_bytes": [(s.t, s.log_bytes) for s in late],
    }
    return {
        name: {
            "slope_per_min": slope(points),
            # the second half alone: a warm-up that lasts past minute 1 shows as the difference
            "slope_second_half": slope(points[len(points) // 2 :]),
            "min": min((v for _, v in points), default=math.nan),
            "max": max((v for _, v in points), default=math.nan),
        }
        for name, points in readings.items()
    }


def steady(
    carrier: Sequence[tuple[float, float]], api: Sequence[tuple[float, float, bool]], t0: float
) -> list[dict[str, Any]]:
    """Per minute: carrier -> script p50/p99 and API p99, ms."""
    c = per_minute(carrier, t0)
    a = per_minute(((t, s) for t, s, _ in api), t0)
    failed = per_minute(((t, 1.0) for t, _, ok in api if not ok), t0)
    return [
        {
            "minute": m + 1,
            "carrier_runs": len(c.get(m, [])),
            "carrier_p50_ms": percentile(c.get(m, []), 50) * 1e3,
            "carrier_p99_ms": percentile(c.get(m, []), 99) * 1e3,
            "api_requests": len(a.get(m, [])),
            "api_failed": len(failed.get(m, [])),
            "api_p99_ms": percentile(a.get(m, []), 99) * 1e3,
        }
        for m in sorted(set(c) | set(a))
    ]


def report(result: Mapping[str, Any]) -> str:
    """The run as Markdown: the checks, the flatness table, the per-minute table, samples."""
    runs = result["runs"]
    lines = [
        f"soak: {result['duration_s']:.0f} s of load; {runs['events_recorded']:,} events in the "
        f"event log (recorder cut off {result['load']['recorder_overflows']} times); "
        f"final divergence from ip -j: links {result['divergence']['links']}, addresses "
        f"{result['divergence']['addresses']}, routes {result['divergence']['routes']}; "
        f"flapping links whose last run was not their final state: "
        f"{result['final']['last_run_wrong'] or 'none'}",
        "",
        table(
            ["directory", "fired", "superseded", "expected", "ran", "missing", "unexpected"],
            [[name, *(fmt(v[k]) for k in list(v))] for name, v in runs["directories"].items()],
        ),
        "",
        table(
            ["reading (after minute 1)", "slope /min", "2nd half /min", "min", "max"],
            [
                [
                    name,
                    fmt(v["slope_per_min"], 4),
                    fmt(v.get("slope_second_half"), 4),
                    fmt(v["min"]),
                    fmt(v["max"]),
                ]
                for name, v in result["flat"].items()
            ],
        ),
        "",
        minutes_table(result["steady"]),
    ]
    return "\n".join(lines)


def minutes_table(minutes: Iterable[Mapping[str, Any]]) -> str:
    return table(
        ["minute", "carrier runs", "p50 ms", "p99 ms", "API req", "API failed", "API p99 ms"],
        [
            [
                m["minute"],
                fmt(m["carrier_runs"]),
                fmt(m["carrier_p50_ms"], 1),
                fmt(m["carrier_p99_ms"], 1),
                fmt(m["api_requests"]),
                fmt(m["api_failed"]),
                fmt(m["api_p99_ms"], 1),
            ]
            for m in minutes
        ],
    )


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m bench.soak_report RESULTS.json")
    result = json.loads(Path(sys.argv[1]).read_text())["results"]
    result["flat"] = flatness([Sample(**s) for s in result["samples"]])
    print(report(result))


if __name__ == "__main__":
    main()
