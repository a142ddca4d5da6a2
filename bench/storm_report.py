"""The storm benchmark's table: netevd beside the bare pyroute2 reader, one row per run."""

from __future__ import annotations

from typing import Any

from bench.stats import Summary, fmt, percentile, table

HEAD = [
    "storm",
    "run",
    "reader caught up (s)",
    "netevd caught up (s)",
    "netevd / reader",
    "netevd after ip -batch (s)",
    "ip -batch (s)",
    "divergence",
    "overrun resyncs",
    "RSS idle → after (growth) / HWM (MiB)",
    "daemon CPU (s)",
    "status p99 / max (ms)",
    "health p99 / max (ms)",
    "other link's carrier → script p50 / max (ms) (n)",
    "SIGTERM → exit (s)",
]


def report(runs: list[dict[str, Any]]) -> str:
    return (
        "Storms (times from just before ip -batch started; API answers polled every 50 ms "
        "while netevd works through the storm)\n\n" + table(HEAD, [_row(r) for r in runs])
    )


def _reader(run: dict[str, Any]) -> tuple[str, float | None]:
    reader = run.get("reader")
    if not reader:
        return "-", None
    if reader["outcome"] == "done":
        return fmt(reader["caught_up_s"]), reader["caught_up_s"]
    return f"{reader['outcome']} after {fmt(reader['gave_up_s'])} s ({reader['read']:,} read)", None


def _ms(summary: Summary | dict[str, Any]) -> str:
    values = summary if isinstance(summary, dict) else summary.__dict__
    return f"{fmt(values['p99'], 1)} / {fmt(values['max'], 1)}"


def _carrier(run: dict[str, Any]) -> str:
    found = run["carrier_ms"]
    if not found:
        return f"- (0, {run['carrier_missed']} missed)"
    missed = f", {run['carrier_missed']} missed" if run["carrier_missed"] else ""
    return f"{fmt(percentile(found, 50), 1)} / {fmt(max(found), 1)} ({len(found)}{missed})"


def _row(run: dict[str, Any]) -> list[object]:
    reader_cell, reader_s = _reader(run)
    ratio = fmt(run["caught_up_s"] / reader_s) if reader_s else "-"
    growth = run["after_rss_mib"] - run["idle_rss_mib"]
    return [
        run["scenario"],
        run["run"],
        reader_cell,
        fmt(run["caught_up_s"]),
        ratio,
        fmt(run["after_batch_s"]),
        fmt(run["batch_s"]),
        fmt(run["divergence"]),
        fmt(int(run["overrun_resyncs"])),
        f"{fmt(run['idle_rss_mib'], 1)} → {fmt(run['after_rss_mib'], 1)} (+{fmt(growth, 1)}) / "
        f"{fmt(run['hwm_mib'], 1)}",
        fmt(run["daemon_cpu_s"]),
        _ms(run["status_ms"]),
        _ms(run["health_ms"]),
        _carrier(run),
        fmt(run.get("sigterm_s")),
    ]
