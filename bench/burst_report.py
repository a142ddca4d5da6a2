"""The burst benchmark's tables: storms (routes, addresses) and carrier flaps, with anchors."""

from __future__ import annotations

from typing import Any

from bench import anchors
from bench.stats import fmt, table

STORM_HEAD = [
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
FLAP_HEAD = [
    "tool",
    "trigger loop (s)",
    "script runs (no-carrier / carrier)",
    "last run after last trigger (ms)",
    "last state",
    "superseded",
    "daemon CPU (s)",
]


def report(results: list[dict[str, Any]]) -> str:
    storms = [r for r in results if not r["scenario"].startswith("flaps")]
    flap_runs = [r for r in results if r["scenario"].startswith("flaps")]
    out = []
    if storms:
        out.append(
            "Storms (times from just before ip -batch started; 'final picture' is the routes.d "
            "run with the final route_count, or the API matching ip -j addr)\n\n"
            + table(STORM_HEAD, [_storm_row(r) for r in storms])
        )
    if flap_runs:
        rows = [_flap_row(r) for r in flap_runs]
        for tool, settle in anchors.FLAP_SETTLE_MS.items():
            cells = " / ".join(f"{v:,}" for v in settle)
            rows.append([f"{tool} (anchor, 200 flaps)", "0.18-0.36", "-", cells, "-", "-", "-"])
        out.append("Carrier flaps back to back\n\n" + table(FLAP_HEAD, rows))
    return "\n\n".join(out)


def _storm_row(r: dict[str, Any]) -> list[object]:
    final = r.get("final_script_s", r.get("state_matched_s"))
    after = r.get("final_script_after_batch_s", r.get("state_matched_after_batch_s"))
    return [
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


def _flap_row(r: dict[str, Any]) -> list[object]:
    return [
        f"**netevd**, {r['scenario']}",
        fmt(r["trigger_loop_s"]),
        f"{r['script_runs']} ({r['no_carrier_runs']} / {r['carrier_runs']})",
        fmt((r["last_run_after_last_trigger_s"] or 0) * 1e3, 0),
        r["last_run_state"],
        fmt(int(r["superseded_runs"])),
        fmt(r["daemon_cpu_s"]),
    ]
