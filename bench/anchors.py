"""Figures quoted from the anchor study (research/anchor-latency.md), measured on the project's
standard machine (Debian 12 VM, 2 vCPUs, kernel 6.18, Python 3.11.7, pyroute2 0.9.7) with the
same definition of latency: the script's $EPOCHREALTIME minus the trigger's time.time() taken
just before the link change. Trials there were 100 per direction (30 for the equal-ifindex row).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    tool: str
    trigger: str
    event: str
    n: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float  # all in ms


LATENCY = (
    Anchor("floor A: pyroute2 reader + spawn", "pyroute2", "carrier lost", 100,
           3.26, 4.57, 5.88, 11.50, 11.58),
    Anchor("floor A: pyroute2 reader + spawn", "pyroute2", "carrier gained", 100,
           3.22, 4.51, 5.72, 9.38, 21.23),
    Anchor("floor A: pyroute2 reader + spawn", "ip", "carrier lost", 100,
           4.25, 5.80, 6.67, 7.12, 7.51),
    Anchor("floor A: pyroute2 reader + spawn", "ip", "carrier gained", 100,
           4.09, 5.73, 6.58, 7.34, 9.13),
    Anchor("floor B: ip monitor + while read", "pyroute2", "carrier lost", 100,
           3.10, 4.42, 6.05, 18.59, 25.00),
    Anchor("floor B: ip monitor + while read", "pyroute2", "carrier gained", 100,
           2.79, 4.23, 6.35, 21.05, 22.38),
    Anchor("floor B: ip monitor + while read", "ip", "carrier lost", 100,
           4.45, 5.56, 6.95, 8.93, 9.37),
    Anchor("floor B: ip monitor + while read", "ip", "carrier gained", 100,
           4.15, 5.55, 6.36, 8.37, 13.56),
    Anchor("networkd-dispatcher 2.2.3 (no-carrier.d)", "pyroute2", "carrier lost", 100,
           12.99, 19.66, 31.54, 40.68, 40.91),
    Anchor("networkd-dispatcher 2.2.3 (no-carrier.d)", "ip", "carrier lost", 100,
           13.19, 26.27, 35.28, 47.11, 71.97),
    Anchor("networkd-dispatcher 2.2.3 (routable.d)", "pyroute2", "carrier gained", 100,
           19.12, 28.62, 37.51, 46.93, 53.77),
    Anchor("networkd-dispatcher 2.2.3 (routable.d)", "ip", "carrier gained", 100,
           19.80, 36.59, 46.31, 66.36, 77.63),
    Anchor("floor A, equal ifindex on both veth ends", "pyroute2", "carrier lost", 30,
           3.57, 473.59, 846.25, 991.16, 1021.76),
    Anchor("floor A, equal ifindex on both veth ends", "pyroute2", "carrier gained", 30,
           3.15, 4.52, 4.90, 8.10, 9.19),
)  # fmt: skip

# Floor A split (pyroute2 trigger, 200 trials), ms: trigger -> RTM_NEWLINK received; message ->
# script start.
FLOOR_A_SPLIT = {"trigger_to_message_p50": 1.77, "message_to_script_p50": 2.74}

# Resources (research/anchor-latency.md, "Resources and startup").
IDLE_RSS_MIB = {
    "floor A (python + pyroute2)": 32.7,
    "floor B (bash + ip monitor, 3 processes)": 7.0,
    "networkd-dispatcher (fresh, p50 of 20)": 19.8,
    "networkd-dispatcher (after ~800 events)": 20.1,
    "systemd-networkd": 9.0,
}
DISPATCHER_STARTUP_MS = {"min": 84.1, "p50": 98.8, "p90": 120.5, "max": 128.7, "n": 20}

# Burst: 200 flaps back to back; last script run after the last trigger, ms (3 runs).
FLAP_SETTLE_MS = {
    "floor A": (1688, 1100, 1503),
    "floor B": (724, 609, 666),
    "networkd-dispatcher": (6531, 4226, 5449),
    "systemd-networkd alone (2 runs)": (1474, 2485),
}


def matching(trigger: str, event: str, equal_index: bool = False) -> list[Anchor]:
    """The anchor rows for a trigger and an event ("carrier lost" / "carrier gained")."""
    rows = [a for a in LATENCY if a.event == event and a.trigger == trigger]
    equal = [a for a in rows if "equal ifindex" in a.tool]
    return equal if equal_index else [a for a in rows if a not in equal]
