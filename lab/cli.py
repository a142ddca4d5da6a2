"""``python -m lab``: bring shipped topologies up and down by hand, list them, clean up a prefix."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from lab.errors import LabError
from lab.net.build import Lab
from lab.net.cleanup import cleanup
from lab.net.naming import prefix_problem
from lab.net.netns import list_netns, netns_path
from lab.net.topologies import DHCP_POOL, DHCP_ROUTER, TOPOLOGIES

STATE_DIR = Path("/run/netevd-lab")
DEFAULT_PREFIX = "nvlab-"


def _manifest(prefix: str) -> Path:
    return STATE_DIR / f"{prefix.rstrip('-')}.json"


def cmd_up(name: str, prefix: str) -> int:
    if _manifest(prefix).exists() or any(n.startswith(prefix) for n in list_netns()):
        raise LabError(
            f"a lab with prefix {prefix!r} is already up (python -m lab down --prefix {prefix})"
        )
    lab = Lab(TOPOLOGIES[name](), prefix=prefix)
    lab.up()
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    manifest = {
        "topology": name,
        "prefix": prefix,
        "created": [[c.kind, c.name] for c in lab.created],
    }
    _manifest(prefix).write_text(json.dumps(manifest, indent=1) + "\n")
    if name == "dhcp":
        _start_dnsmasq(lab)
    _print_hints(lab, name)
    return 0


def _start_dnsmasq(lab: Lab) -> None:
    """A detached dnsmasq; it lives in the server namespace and dies with it at ``down``."""
    workdir = STATE_DIR / lab.prefix.rstrip("-")
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        "ip",
        "netns",
        "exec",
        lab.ns("server"),
        "dnsmasq",
        "--conf-file=/dev/null",
        "--port=0",
        "--interface=eth0",
        "--bind-interfaces",
        "--no-ping",
        f"--dhcp-range={DHCP_POOL[0]},{DHCP_POOL[1]},255.255.255.0,1h",
        f"--dhcp-option=option:router,{DHCP_ROUTER}",
        "--dhcp-authoritative",
        f"--dhcp-leasefile={workdir / 'dnsmasq.leases'}",
        f"--pid-file={workdir / 'dnsmasq.pid'}",
    ]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)


def _print_hints(lab: Lab, name: str) -> None:
    print(f"lab {name!r} is up with prefix {lab.prefix!r}. Namespaces:")
    for ns in lab.topology.namespaces:
        print(f"  {lab.ns(ns):20} ip -n {lab.ns(ns)} -br addr")
    if name == "multihomed":
        print(
            f"Try: ip netns exec {lab.ns('client')} ping -c1 -W1 10.231.2.2   "
            "(fails: the reply leaves via eth0)"
        )
    if name == "dhcp":
        print(
            f"dnsmasq serves {DHCP_POOL[0]}-{DHCP_POOL[1]} in {lab.ns('server')}; try: "
            f"ip netns exec {lab.ns('client')} dhclient -v -1 -lf /tmp/l -pf /tmp/p eth0"
        )
    print(f"Remove it with: make lab-down (or python -m lab down --prefix {lab.prefix})")


def _forget(prefix: str) -> list[str]:
    """Remove the manifest and work directory of every lab whose prefix starts with *prefix*
    (the namespaces are gone by then), so that the next ``up`` with that prefix works."""
    forgotten = []
    for manifest in sorted(STATE_DIR.glob("*.json")) if STATE_DIR.is_dir() else []:
        try:
            recorded = str(json.loads(manifest.read_text()).get("prefix", ""))
        except (OSError, ValueError, AttributeError):
            recorded = manifest.stem + "-"  # unreadable: judged by its file name
        if not recorded.startswith(prefix):
            continue
        manifest.unlink(missing_ok=True)
        workdir = STATE_DIR / recorded.rstrip("-")
        if workdir.is_dir():
            for entry in workdir.iterdir():
                entry.unlink()
            workdir.rmdir()
        forgotten.append(f"manifest {manifest}")
    return forgotten


def cmd_down(prefix: str) -> int:
    removed = cleanup(prefix)
    _forget(prefix)
    print("\n".join(f"removed {what}" for what in removed) or f"nothing carries {prefix!r}")
    return 0


def cmd_cleanup(prefix: str) -> int:
    """Everything whose name carries *prefix*, and the manifests of labs with such a prefix."""
    removed = cleanup(prefix) + _forget(prefix)
    print("\n".join(f"removed {what}" for what in removed) or "nothing to remove")
    return 0


def cmd_list() -> int:
    manifests = sorted(STATE_DIR.glob("*.json")) if STATE_DIR.is_dir() else []
    if not manifests:
        print("no lab is up")
    for path in manifests:
        data = json.loads(path.read_text())
        namespaces = [n for kind, n in data["created"] if kind == "netns"]
        alive = sum(netns_path(n).exists() for n in namespaces)
        print(
            f"{data['prefix']}  {data['topology']}  {alive}/{len(namespaces)} namespaces: "
            + " ".join(namespaces)
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build a shipped topology")
    up.add_argument("name", choices=sorted(TOPOLOGIES))
    up.add_argument("--prefix", default=DEFAULT_PREFIX)
    down = sub.add_parser("down", help="remove the lab with this prefix")
    down.add_argument("--prefix", default=DEFAULT_PREFIX)
    sub.add_parser("list", help="list the labs that are up")
    clean = sub.add_parser("cleanup", help="remove everything whose name carries a prefix")
    clean.add_argument("--prefix", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if (prefix := getattr(args, "prefix", None)) and (problem := prefix_problem(prefix)):
            raise LabError(problem)
        if args.command == "up":
            return cmd_up(args.name, args.prefix)
        if args.command == "down":
            return cmd_down(args.prefix)
        if args.command == "list":
            return cmd_list()
        return cmd_cleanup(args.prefix)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    except PermissionError as exc:
        print(f"lab: {exc} (the lab needs root)", file=sys.stderr)
        return 1
