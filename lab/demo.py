"""``make demo``: netevd's main job, shown in a lab namespace (no host interface is touched).

It builds two namespaces joined by a veth pair, runs the real netevd in one of them with the
example scripts from ``examples/scripts``, makes changes a user would make, prints what each
script saw, and removes everything.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
from pathlib import Path

from lab.net.build import Lab
from lab.net.topologies import host_peer
from lab.net.topology import Topology
from lab.netevd import NetevdProcess, running_netevd
from lab.wait import wait_until

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scripts"
OUTPUT = re.compile(r"script\.output .*?line=(.*)$")

# (namespace, what a user does, what netevd logs once the scripts saw it, the command)
STEPS = (
    ("host", "give eth0 an address", "routable:", "addr add 10.231.9.1/24 dev eth0"),
    ("host", "add a route", "routes: eth0", "route add 10.99.0.0/16 via 10.231.9.2"),
    ("peer", "pull the cable (the peer's end goes down)", "ALERT: eth0", "link set eth0 down"),
    ("peer", "plug it back in", "routable: eth0.*replay=0", "link set eth0 up"),
    (
        "host",
        "remove the address",
        r"routes: eth0 changed \(del\)",
        "addr del 10.231.9.1/24 dev eth0",
    ),
)


def topology() -> Topology:
    return host_peer(peer=["10.231.9.2/24"])


def install_examples(target: Path) -> Path:
    """A root-owned copy with the modes netevd insists on (a checkout may carry others)."""
    shutil.copytree(EXAMPLES, target)
    target.chmod(0o755)
    for path in target.rglob("*"):
        path.chmod(0o755)
    return target


class Narrator:
    def __init__(self, proc: NetevdProcess) -> None:
        self.proc = proc
        self.shown = 0

    async def expect(self, pattern: str) -> None:
        """Wait for a log line after what was shown so far, then show the scripts' output."""
        regex = re.compile(pattern)
        start = self.shown
        await wait_until(
            lambda: any(regex.search(line) for _, line in self.proc.lines[start:]),
            timeout=15,
            message=f"netevd to log {pattern!r}",
        )
        self.show()

    async def step(self, lab: Lab, ns: str, text: str, expect: str, *argv: str) -> None:
        print(f"\n$ ip -n {lab.ns(ns)} {' '.join(argv[1:])}    # {text}", flush=True)
        await lab.run(ns, *argv)
        await self.expect(expect)

    def show(self) -> None:
        for _, line in self.proc.lines[self.shown :]:
            if match := OUTPUT.search(line):
                print(f"    script said: {match.group(1).strip(chr(34))}", flush=True)
        self.shown = len(self.proc.lines)


async def demo(workdir: Path) -> None:
    scripts = install_examples(workdir / "scripts")
    async with Lab(topology()) as lab:
        print(f"lab up: namespaces {lab.ns('host')} (netevd runs here) and {lab.ns('peer')}")
        info = {"log_level": "info"}
        async with running_netevd(lab, "host", workdir, scripts, system=info) as daemon:
            narrator = Narrator(daemon.proc)
            print("netevd is running; the startup replay runs the scripts for what already is:")
            await narrator.expect("carrier: eth0")
            for ns, text, expect, command in STEPS:
                await narrator.step(lab, ns, text, expect, "ip", *command.split())
            await daemon.proc.stop()
            narrator.show()
    print("\nlab removed; nothing of it is left on this machine.")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="netevd-demo-") as tmp:
        try:
            asyncio.run(demo(Path(tmp)))
        except Exception as exc:  # the demo's user wants the reason, not a traceback
            print(f"demo failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
