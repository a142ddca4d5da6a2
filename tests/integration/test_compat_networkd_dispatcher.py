"""compat.networkd_dispatcher: networkd-dispatcher's scripts, unchanged, run by the real netevd.

Beside the real networkd-dispatcher 2.2.3 (Debian's, extracted by scripts/install-deps.sh) on
the same real systemd-networkd: the same script, written as networkd-dispatcher's README shows
(a ``routable.d/50-ifup-hooks`` that reads ``$IP_ADDRS`` into an array), in both trees; every
run of it must see what networkd-dispatcher gives it. Then with the kernel backend (no networkd),
and a tree that fails the trust rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab import Lab, wait_until
from lab.daemons.networkd import (
    NetworkdNode,
    dhcp_client_network,
    dhcp_server_network,
    networkd_dhcp,
    networkd_dispatcher_available,
)
from lab.net.topologies import host_peer
from lab.netevd import Run, ScriptDirs, check_document

pytestmark = pytest.mark.dbus

SERVER = dhcp_server_network("eth0", "10.231.70.1/24")
CLIENT = dhcp_client_network("eth0", extra="\n[Address]\nAddress=10.231.71.1/24\nScope=link\n")
STATES = ("carrier", "no-carrier", "configuring", "configured", "degraded", "routable", "off")
# networkd-dispatcher's README: "IP_ADDRS ... can be read into a BASH array like this:
# read -r -a ip_addrs <<<"$IP_ADDRS"". The hook keeps what it saw (its environment and the
# array's first element) where the test can read it; like many such hooks it names itself
# with basename "$0" and sources a file beside it through dirname "$0".
IFUP_HOOK = """#!/bin/bash
# {state}.d/50-ifup-hooks: networkd-dispatcher hands us $IFACE entering $STATE
read -r -a ip_addrs <<<"$IP_ADDRS"
export FIRST_IP="${{ip_addrs[0]}}"
export SELF="$(basename "$0")"
. "$(dirname "$0")/common.sh"
n=$(date +%s%N)
f="{out}/$n-$$"
env -0 > "$f.tmp" && mv "$f.tmp" "$f.env"
"""
LIBRARY = "export FROM_LIBRARY=sourced-beside-the-script\n"  # common.sh, not executable
VARIABLES = ("IFACE", "STATE", "AdministrativeState", "OperationalState", "ESSID", "SELF")
VARIABLES += ("FROM_LIBRARY",)
ADDRESSED = ("ADDR", "IP_ADDRS", "IP6_ADDRS", "FIRST_IP")


def hook_tree(root: Path) -> ScriptDirs:
    tree = ScriptDirs(root)
    for state in STATES:
        tree.add_raw(state, "50-ifup-hooks", IFUP_HOOK.format(state=state, out=tree.out))
        tree.add_raw(state, "common.sh", LIBRARY, mode=0o644)
    return tree


@dataclass
class World:
    lab: Lab
    client: NetworkdNode
    theirs: ScriptDirs  # run by the real networkd-dispatcher
    ours: ScriptDirs  # run by netevd (compat.networkd_dispatcher_dirs)
    own: ScriptDirs  # netevd's own tree, empty


@pytest.fixture
async def world(lab, tmp_path):
    if reason := networkd_dispatcher_available():
        pytest.skip(reason)
    built = await lab(networkd_dhcp())
    server = NetworkdNode(built.ns("server"), {"10-eth0.network": SERVER}, name="server")
    client = NetworkdNode(built.ns("client"), {"10-eth0.network": CLIENT}, name="client")
    try:
        await server.start()
        await client.start()
        await client.wait_for("eth0", operational="routable", administrative="configured")
        yield World(
            built,
            client,
            hook_tree(tmp_path / "theirs"),
            hook_tree(tmp_path / "ours"),
            ScriptDirs(tmp_path / "own"),
        )
    finally:
        await client.stop()
        await server.stop()


def eth0(tree: ScriptDirs, since: int = 0) -> list[Run]:
    return [r for r in tree.runs()[since:] if r.env.get("IFACE") == "eth0"]


async def both(world: World, state: str, since: tuple[int, int]) -> tuple[Run, Run]:
    """The first run of *state* for eth0 in each tree since the marks: (theirs, ours)."""

    def found() -> tuple[Run, Run] | None:
        got = [
            [r for r in eth0(tree, mark) if r.env["STATE"] == state]
            for tree, mark in ((world.theirs, since[0]), (world.ours, since[1]))
        ]
        return (got[0][0], got[1][0]) if all(got) else None

    pair: tuple[Run, Run] = await wait_until(found, 20, message=f"{state} in both trees")
    return pair


def same(theirs: Run, ours: Run, names: tuple[str, ...]) -> None:
    assert {n: ours.env.get(n) for n in names} == {n: theirs.env.get(n) for n in names}


def same_json(theirs: Run, ours: Run, *, addresses: bool) -> None:
    """Every key of ours has networkd-dispatcher's value (it has more: networkctl's lines)."""
    mine, real = json.loads(ours.env["json"]), json.loads(theirs.env["json"])
    for key, value in mine.items():
        if addresses or key not in ("Address", "Gateway"):
            assert real[key] == value, key


async def test_the_hooks_see_what_networkd_dispatcher_gives_them(world, netevd):
    await world.client.start_dispatcher(world.theirs.root)  # -T: its start-up triggers
    daemon = await netevd(
        world.lab,
        world.own,
        ns="client",
        env=world.client.env,
        system={"backend": "systemd-networkd"},
        compat={"networkd_dispatcher": True, "networkd_dispatcher_dirs": [str(world.ours.root)]},
    )
    # the start-up replay: networkd-dispatcher's -T is netevd's scripts.run_startup_triggers
    for state in ("configured", "routable"):
        theirs, ours = await both(world, state, (0, 0))
        same(theirs, ours, VARIABLES + ADDRESSED)
        same_json(theirs, ours, addresses=True)
        assert ours.env["IP_ADDRS"] == "{} 10.231.71.1".format(ours.env["FIRST_IP"])
        assert ours.env["NETEVD_REPLAY"] == "1"
        # $0 is the script's path in both trees: it names itself, finds its library
        assert (ours.env["SELF"], ours.env["FROM_LIBRARY"]) == (
            "50-ifup-hooks",
            "sourced-beside-the-script",
        )
        check_document(ours.env["NETEVD_JSON"])
        assert "LINK" not in ours.env  # networkd-dispatcher's names only (and NETEVD_*)
    assert sorted(r.env["STATE"] for r in eth0(world.ours)) == ["configured", "routable"]

    marks = (len(world.theirs.runs()), len(world.ours.runs()))
    await world.lab.run("server", "ip", "link", "set", "eth0", "down")
    theirs, ours = await both(world, "no-carrier", marks)
    same(theirs, ours, VARIABLES)  # its addresses are read later, by networkctl: a race
    await world.lab.run("server", "ip", "link", "set", "eth0", "up")
    # networkd's own carrier state runs carrier.d (netevd's own comes from the kernel)
    for state in ("carrier", "configuring", "degraded"):
        theirs, ours = await both(world, state, marks)
        same(theirs, ours, VARIABLES)
        same_json(theirs, ours, addresses=False)
    for state in ("routable", "configured"):  # settled: the addresses are the same too
        theirs, ours = await both(world, state, marks)
        same(theirs, ours, VARIABLES + ADDRESSED)
        same_json(theirs, ours, addresses=True)
        assert ours.env["NETEVD_REPLAY"] == "0"
    order = [r.env["STATE"] for r in eth0(world.ours, marks[1])]
    assert order == [r.env["STATE"] for r in eth0(world.theirs, marks[0])]
    assert "script.env.dropped" not in daemon.proc.output()


async def test_with_the_kernel_backend_the_kernels_states_run_them(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.0.0.1/24"], ["10.0.0.254/24"], gateway="10.0.0.254"))
    ours = hook_tree(tmp_path / "ours")
    daemon = await netevd(
        built,
        ScriptDirs(tmp_path / "own"),
        compat={"networkd_dispatcher": True, "networkd_dispatcher_dirs": [str(ours.root)]},
    )
    (routable,) = await ours.wait_for(IFACE="eth0", STATE="routable")
    assert {n: routable.env[n] for n in (*VARIABLES, "IP_ADDRS", "FIRST_IP", "IP6_ADDRS")} == {
        "IFACE": "eth0",
        "STATE": "routable",
        "AdministrativeState": "",  # no networkd: nothing administers the link
        "OperationalState": "routable",  # the kernel-derived state
        "ESSID": "",
        "SELF": "50-ifup-hooks",
        "FROM_LIBRARY": "sourced-beside-the-script",
        "IP_ADDRS": "10.0.0.1",
        "FIRST_IP": "10.0.0.1",
        "IP6_ADDRS": "",
    }
    assert json.loads(routable.env["json"])["Gateway"] == ["10.0.0.254"]
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    (lost,) = await ours.wait_for(IFACE="eth0", STATE="no-carrier")
    assert lost.env["OperationalState"] == "no-carrier"
    await built.run("peer", "ip", "link", "set", "eth0", "up")
    await ours.wait_for(IFACE="eth0", STATE="carrier", NETEVD_REPLAY="0")
    assert "Traceback" not in daemon.proc.output()


async def test_a_tree_others_can_write_runs_nothing(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.0.0.1/24"], ["10.0.0.254/24"], gateway="10.0.0.254"))
    ours = hook_tree(tmp_path / "ours")
    (ours.root / "routable.d").chmod(0o777)  # anyone could drop a script in
    own = ScriptDirs(tmp_path / "own")
    own.add("routable")  # netevd's own tree is fine: its script runs
    daemon = await netevd(
        built,
        own,
        compat={"networkd_dispatcher": True, "networkd_dispatcher_dirs": [str(ours.root)]},
        api=True,
    )
    await own.wait_for(LINK="eth0", STATE="routable")
    (carrier,) = await ours.wait_for(IFACE="eth0", STATE="carrier")  # a sound directory runs
    await daemon.proc.wait_for_log(r"script\.skipped .*routable\.d.* world-writable")
    assert ours.matching(STATE="routable") == []
    assert carrier.env["IFACE"] == "eth0"
    # the listing says so before anyone has to read the log
    status, body = await daemon.api.get("/api/v1/scripts")
    assert status == 200
    assert body["data"]["compat_dirs"] == {"networkd-dispatcher": [str(ours.root)]}
    listed = {
        (d["tree"], d["directory"]): [(s["verdict"], s["reason"] or "") for s in d["scripts"]]
        for d in body["data"]["directories"]
    }
    assert [verdict for verdict, _ in listed[("networkd-dispatcher", "routable")]] == [
        "skipped",  # 50-ifup-hooks
        "skipped",  # common.sh
    ]
    assert all("world-writable" in why for _, why in listed[("networkd-dispatcher", "routable")])
    assert ("runs", "") in listed[("networkd-dispatcher", "carrier")]
    assert listed[("netevd", "routable")] == [("runs", "")]
