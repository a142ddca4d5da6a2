"""Result files: what was measured, with what parameters, on which machine."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path

import pyroute2

from netevd import __version__

RESULTS_DIR = Path(__file__).resolve().parent / "results"


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
