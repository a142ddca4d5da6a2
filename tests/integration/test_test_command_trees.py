"""``netevd test SCRIPT --tree networkd-dispatcher|nm-dispatcher``: a migrated script tried with
its tool's arguments and environment, built from the live state, before compat is turned on.

Held against the real tools: what ``netevd test`` gives a script must be what the real
networkd-dispatcher (on the real systemd-networkd) and the real nm-dispatcher (of the real
NetworkManager 1.42) gave the same script for the same link a moment before. The daemon runs
with the manager's backend and compat off: its API is where ``netevd test`` reads what the
manager reports.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lab import DnsmasqServer, Lab, host_peer, wait_until
from lab.daemons.dispatcher import LIBRARY_SAYS, DispatcherDir
from lab.daemons.networkd import (
    NetworkdNode,
    dhcp_client_network,
    dhcp_server_network,
    networkd_dhcp,
    networkd_dispatcher_available,
)
from lab.daemons.networkmanager import NetworkManagerNode, networkmanager_dhcp
from lab.netevd import ScriptDirs

pytestmark = pytest.mark.dbus

ROUTER = "10.231.80.1"  # the server end of networkmanager_dhcp()
UUID = "0dd5c0de-1111-4222-8333-444455556667"
RECORD = """#!/bin/sh
export SELF="$(basename "$0")" ARGS="$*"
. "$(dirname "$0")/common.sh"
f="{out}/$(date +%s%N)-$$"
env -0 > "$f.tmp" && printf '%s\\0' "$@" > "$f.args" && mv "$f.tmp" "$f.env"
"""
# What only one side has: the shells' own variables, nm-dispatcher's PATH; netevd's NETEVD_*
# and LANG/TZ. Everything else, CONNECTION_DBUS_PATH and CONNECTION_FILENAME among it, is
# compared.
OWN = ("PATH", "PWD", "SHLVL", "_", "RECORDED_BY", "NETEVD_SCRIPT", "LANG", "TZ")
OWN += ("NETEVD_SEQ", "NETEVD_REPLAY", "NETEVD_JSON")


async def netevd_test(built: Lab, ns: str, *argv: str):
    return await built.run(ns, sys.executable, "-m", "netevd", "test", *argv, check=False)


def comparable(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in OWN}


@pytest.fixture
async def nm_world(lab, tmp_path):
    built = await lab(networkmanager_dhcp())
    server = DnsmasqServer(
        built.ns("server"), "eth0", tmp_path / "dnsmasq",
        pool=("10.231.80.100", "10.231.80.150"), router=ROUTER,
        dns=("10.231.80.53",), domain="try.example",
    )  # fmt: skip
    await built.start_process(server)
    await server.wait_ready()
    nm = NetworkManagerNode(built.ns("client"))
    try:
        await nm.start()
        await nm.wait_for_device_state("eth0", "disconnected")
        yield built, nm
    finally:
        await nm.stop()


async def test_nm_dispatcher_scripts_are_tried_with_what_nm_dispatcher_gives(
    nm_world, netevd, tmp_path
):
    built, nm = nm_world
    theirs = DispatcherDir(nm.dispatcher_etc)
    theirs.add("50-record")
    await nm.start_dispatcher()
    daemon = await netevd(
        built, ScriptDirs(tmp_path / "own"), ns="client", env=nm.env, api=True,
        system={"backend": "NetworkManager"},
    )  # fmt: skip
    await nm.add_connection("wired", "eth0", uuid=UUID)
    (up,) = await theirs.wait_for("up")

    async def activated() -> bool:
        status, body = await daemon.api.get("/api/v1/interfaces/eth0")
        backends = body["data"]["backends"] if status == 200 else {}
        return backends.get("NetworkManager", {}).get("DeviceState") == "activated"

    await wait_until(activated, 20, message="the daemon's NetworkManager picture: activated")
    trying = DispatcherDir(tmp_path / "try" / "dispatcher.d")
    script = trying.add("50-record")
    done = await netevd_test(
        built, "client", str(script), "-i", "eth0", "-s", "up", "--tree", "nm-dispatcher"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (tried,) = trying.runs()
    assert tried.args == up.args == ["eth0", "up"]
    assert comparable(tried.env) == comparable(up.env)
    assert (tried.env["SELF"], tried.env["FROM_LIBRARY"]) == ("50-record", LIBRARY_SAYS)
    assert tried.env["IP4_ADDRESS_0"].endswith(f"/24 {ROUTER}")
    assert tried.env["CONNECTION_ID"] == "wired"
    assert tried.env["CONNECTION_FILENAME"].endswith(".nmconnection")
    assert "# running " + str(script) + " 'eth0' 'up'" in done.stdout

    (change,) = await theirs.wait_for("connectivity-change")
    done = await netevd_test(
        built, "client", str(script), "-i", "eth0", "-s", "connectivity-change", "--tree",
        "nm-dispatcher",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tried = trying.runs()[-1]
    assert tried.args == change.args == ["", "connectivity-change"]
    assert comparable(tried.env) == comparable(change.env)
    assert tried.env["CONNECTIVITY_STATE"] == "FULL"


@pytest.fixture
async def networkd_world(lab, tmp_path):
    if reason := networkd_dispatcher_available():
        pytest.skip(reason)
    built = await lab(networkd_dhcp())
    server = dhcp_server_network("eth0", "10.231.72.1/24")
    server_node = NetworkdNode(built.ns("server"), {"10-eth0.network": server}, name="server")
    client_node = NetworkdNode(
        built.ns("client"), {"10-eth0.network": dhcp_client_network("eth0")}, name="client"
    )
    try:
        await server_node.start()
        await client_node.start()
        await client_node.wait_for("eth0", operational="routable", administrative="configured")
        yield built, client_node
    finally:
        await client_node.stop()
        await server_node.stop()


def recorder_tree(root: Path, states: tuple[str, ...]) -> ScriptDirs:
    tree = ScriptDirs(root)
    for state in states:
        tree.add_raw(state, "50-hook", RECORD.format(out=tree.out))
        tree.add_raw(state, "common.sh", f"export FROM_LIBRARY={LIBRARY_SAYS}\n", mode=0o644)
    return tree


async def test_networkd_dispatcher_scripts_are_tried_with_what_it_gives(
    networkd_world, netevd, tmp_path
):
    built, client = networkd_world
    theirs = recorder_tree(tmp_path / "theirs", ("routable",))
    await client.start_dispatcher(theirs.root)  # -T: its start-up triggers run routable.d
    (real,) = await theirs.wait_for(IFACE="eth0", STATE="routable")
    await netevd(
        built, ScriptDirs(tmp_path / "own"), ns="client", env=client.env, api=True,
        system={"backend": "systemd-networkd"},
    )  # fmt: skip
    trying = recorder_tree(tmp_path / "try", ("routable",))
    script = trying.root / "routable.d" / "50-hook"
    done = await netevd_test(
        built, "client", str(script), "-i", "eth0", "-s", "routable", "--tree",
        "networkd-dispatcher",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (tried,) = trying.runs()
    names = ("IFACE", "STATE", "AdministrativeState", "OperationalState", "ESSID", "ADDR")
    names += ("IP_ADDRS", "IP6_ADDRS", "SELF", "ARGS", "FROM_LIBRARY")
    assert {n: tried.env.get(n) for n in names} == {n: real.env.get(n) for n in names}
    assert tried.env["AdministrativeState"] == "configured"  # networkd's own, via the daemon
    assert (tried.env["SELF"], tried.env["ARGS"]) == ("50-hook", "")


async def test_without_a_daemon_the_kernels_picture_is_used(lab, tmp_path):
    built = await lab(host_peer(["10.231.85.1/24"], ["10.231.85.2/24"], gateway="10.231.85.2"))
    trying = recorder_tree(tmp_path / "try", ("routable",))
    script = trying.root / "routable.d" / "50-hook"
    done = await netevd_test(
        built, "host", str(script), "-i", "eth0", "-s", "routable", "--tree",
        "networkd-dispatcher",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# no netevd answered: the kernel's picture only" in done.stdout
    (tried,) = trying.runs()
    assert {n: tried.env[n] for n in ("IFACE", "STATE", "OperationalState", "IP_ADDRS")} == {
        "IFACE": "eth0",
        "STATE": "routable",
        "OperationalState": "routable",
        "IP_ADDRS": "10.231.85.1",
    }
    wrong = await netevd_test(
        built, "host", str(script), "-i", "eth0", "-s", "up", "--tree", "networkd-dispatcher"
    )
    assert wrong.returncode == 2
    assert "--state 'up' is not one of networkd-dispatcher's states; choose one of" in wrong.stderr
    needs_nm = await netevd_test(
        built, "host", str(script), "-i", "eth0", "-s", "hostname", "--tree", "nm-dispatcher"
    )
    assert needs_nm.returncode == 1
    assert "hostname needs NetworkManager's values" in needs_nm.stderr
    elsewhere = await netevd_test(
        built, "host", str(script), "-i", "eth0", "-s", "routable", "--endpoint",
        "http://127.0.0.1:1",
    )  # fmt: skip
    assert elsewhere.returncode == 1
    assert "cannot reach netevd at http://127.0.0.1:1" in elsewhere.stderr
