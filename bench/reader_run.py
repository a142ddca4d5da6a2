"""Running bench/reader.py (the bare pyroute2 reader) through a route storm in a fresh lab."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import ip_batch, new_lab_prefix, write_batch
from lab import Lab, Topology
from lab.process import ManagedProcess
from lab.wait import WaitTimeout

TIMEOUT = 600.0
ROOT = Path(__file__).resolve().parents[1]  # where ``python -m bench.reader`` finds bench


async def reader_run(topology: Topology, lines: Sequence[str], gateway: str) -> dict[str, Any]:
    """The reader's figures for one storm: when it read the last route, or when it overran."""
    with tempfile.TemporaryDirectory(prefix="netevd-bench-") as tmp:
        batch = write_batch(Path(tmp) / "storm.batch", lines)
        async with Lab(topology, prefix=new_lab_prefix()) as lab:
            argv = [sys.executable, "-m", "bench.reader", "--count", str(len(lines))]
            reader = ManagedProcess(
                [*argv, "--gateway", gateway], netns=lab.ns("host"), name="reader", cwd=ROOT
            )
            await lab.start_process(reader)
            await reader.wait_for_log(r"^ready$", 30)
            t0 = time.time()
            await ip_batch(lab.ns("host"), batch)
            t_batch = time.time()
            try:
                end = await reader.wait_for_log(r"^(done|overrun|error-\S+) (\S+) (\d+)$", TIMEOUT)
            except WaitTimeout:
                return {"outcome": "timeout", "batch_s": t_batch - t0, "read": None}
            outcome, when, seen = end.group(1), float(end.group(2)), int(end.group(3))
            return {
                "outcome": outcome,
                "batch_s": t_batch - t0,
                "caught_up_s": when - t0 if outcome == "done" else None,
                "gave_up_s": when - t0 if outcome != "done" else None,
                "read": seen,
            }
