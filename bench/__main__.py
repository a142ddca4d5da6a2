"""Benchmarks of the real netevd daemon in lab namespaces; see docs/benchmarks.md.

``python -m bench all`` runs everything with the defaults of ``make bench``; each subcommand
runs one benchmark with its own options (``python -m bench latency --help``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from types import FrameType

from bench import burst, footprint, latency, liveness, memory, regress, soak, startup, storm
from bench.common import require_root
from bench.results import RESULTS_DIR, machine

BENCHMARKS = {
    "latency": (latency, "carrier change -> carrier.d / no-carrier.d script start"),
    "burst": (burst, "route, address and carrier-flap storms"),
    "storm": (storm, "router-scale storms: netevd beside a bare pyroute2 reader"),
    "regress": (regress, "carrier -> script beside the floor, quiet and under a storm"),
    "memory": (memory, "RSS idle, with N more links, after they go; idle CPU"),
    "startup": (startup, "process start -> READY with 0 and N links"),
    "footprint": (footprint, "start-up, idle memory, wait: beside networkd-dispatcher"),
    "liveness": (liveness, "router silent with carrier up -> gateway.d unreachable"),
    "soak": (soak, "mixed load for --duration (10 min): nothing lost, flat, steady"),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--out", type=Path, default=RESULTS_DIR, help="where JSON results go")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("all", help="every benchmark with its defaults (make bench)")
    for name, (module, text) in BENCHMARKS.items():
        module.add_arguments(sub.add_parser(name, help=text, description=module.__doc__))
    return top


async def run_all(out: Path) -> None:
    """Every benchmark with its defaults, plus the equal-ifindex latency run (30 trials)."""
    cli = parser()
    for name, (module, _) in BENCHMARKS.items():
        print(f"== {name}\n", flush=True)
        await module.main(cli.parse_args([name]), out)
        if name == "latency":
            same = cli.parse_args(["latency", "--same-index", "--trials", "30"])
            same.trigger = ["pyroute2"]
            await module.main(same, out)


async def cancellable(work: Awaitable[object]) -> None:
    """*work*, cancelled by SIGTERM as asyncio.run cancels it on Ctrl-C, so every lab is still
    torn down.

    A plain signal handler, not loop.add_signal_handler: pyroute2 forks helpers (to open
    sockets in a namespace) and stops them with SIGTERM; a forked helper shares the loop's
    wakeup fd, so a loop-level SIGTERM handler would fire for the helper's signal too.
    """
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != pid:  # a forked helper being stopped: die as by default
            os._exit(128 + signum)
        if task is not None and not task.done():
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake the loop up

    pid = os.getpid()
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        await work
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> None:
    args = parser().parse_args()
    require_root()
    started = time.monotonic()
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu']}), kernel {info['kernel']}, "
        f"Python {info['python']}, pyroute2 {info['pyroute2']}, netevd {info['netevd']}\n",
        flush=True,
    )
    work = (
        run_all(args.out)
        if args.command == "all"
        else BENCHMARKS[args.command][0].main(args, args.out)
    )
    try:
        asyncio.run(cancellable(work))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("interrupted; the benchmark's namespaces and processes were removed")
    print(f"done in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
