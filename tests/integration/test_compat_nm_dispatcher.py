"""compat.nm_dispatcher: NetworkManager-dispatcher's scripts, unchanged, run by the real netevd.

The real NetworkManager 1.42 (``client``, eth0 managed) with its real nm-dispatcher beside it,
and netevd with ``backend: NetworkManager`` on the same bus. The same script, written as
NetworkManager-dispatcher(8) describes (``$1`` the interface, ``$2`` the action, a ``case`` on
it), sits in nm-dispatcher's dispatcher.d and in netevd's compat.nm_dispatcher_dirs; each run of
it must get the arguments and the environment nm-dispatcher gives it. dnsmasq (``server``)
offers a lease with a router, two DNS servers and a domain. The connection variables are
compared too: ``CONNECTION_DBUS_PATH`` (the profile's object path, the active connection's
``Connection``), ``CONNECTION_FILENAME`` (that profile's ``Filename``) and, for a bridge
configured outside NetworkManager and activated externally, ``CONNECTION_EXTERNAL=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab import DnsmasqServer, wait_until
from lab.daemons.dispatcher import LIBRARY_SAYS, DispatchedRun, DispatcherDir
from lab.daemons.networkmanager import NetworkManagerNode, networkmanager_dhcp
from lab.netevd import ScriptDirs, check_document

pytestmark = pytest.mark.dbus

ROUTER = "10.231.80.1"
UUID = "0dd5c0de-1111-4222-8333-444455556666"
# nm-dispatcher's own PATH and the recorder shell's own variables; netevd's NETEVD_* on its
# side.
NOT_COMPARED = (
    "PATH",
    "RECORDED_BY",
    "NETEVD_SCRIPT",
    "PWD",
    "SHLVL",
    "_",
)
NETEVDS_OWN = ("NETEVD_SEQ", "NETEVD_REPLAY", "NETEVD_JSON", "LANG", "TZ")  # netevd passes LANG/TZ


@pytest.fixture
async def world(lab, tmp_path):
    built = await lab(networkmanager_dhcp())
    server = DnsmasqServer(
        built.ns("server"), "eth0", tmp_path / "dnsmasq",
        pool=("10.231.80.100", "10.231.80.150"), router=ROUTER,
        dns=("10.231.80.53", "10.231.80.54"), domain="lab.example",
    )  # fmt: skip
    await built.start_process(server)
    await server.wait_ready()
    nm = NetworkManagerNode(built.ns("client"))
    try:
        await nm.start()
        await nm.wait_for_device_state("eth0", "disconnected")  # managed, no profile yet
        yield built, nm
    finally:
        await nm.stop()


def compat(*dirs: Path) -> dict:
    return {
        "system": {"backend": "NetworkManager"},
        "compat": {"nm_dispatcher": True, "nm_dispatcher_dirs": [str(d) for d in dirs]},
    }


def comparable(run: DispatchedRun, leave_out: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in run.env.items() if k not in leave_out + NOT_COMPARED}


async def test_the_scripts_get_what_nm_dispatcher_gives_them(world, netevd, tmp_path):
    built, nm = world
    theirs = DispatcherDir(nm.dispatcher_etc)
    theirs.add("50-record")
    await nm.start_dispatcher()
    ours = DispatcherDir(tmp_path / "etc" / "dispatcher.d")
    ours.add("50-record")
    daemon = await netevd(
        built, ScriptDirs(tmp_path / "own"), ns="client", env=nm.env,
        **compat(ours.root, tmp_path / "lib" / "dispatcher.d"),
    )  # fmt: skip
    await nm.add_connection("wired", "eth0", uuid=UUID)
    for tree in (theirs, ours):
        await tree.wait_for("up")
        await tree.wait_for("connectivity-change")
    await nm.nmcli("connection", "down", "wired")
    for tree in (theirs, ours):
        await tree.wait_for("down")
        await tree.wait_for("connectivity-change", count=2)

    # nm-dispatcher runs every request after the one before; netevd keeps each interface's
    # runs in order and the manager's (connectivity-change) in a queue of their own, beside them
    real, mine = theirs.runs(), ours.runs()
    for device in ("eth0", ""):
        got = [r for r in mine if r.args[0] == device]
        want = [r for r in real if r.args[0] == device]
        assert [r.args for r in got] == [r.args for r in want]
        for run, truth in zip(got, want, strict=True):
            assert comparable(run, NETEVDS_OWN) == comparable(truth, ()), run.args
            check_document(run.env["NETEVD_JSON"])
    assert [r.args for r in mine if r.args[0]] == [
        ["eth0", "dhcp4-change"],  # the lease, in ip-config: before up
        ["eth0", "up"],
        ["eth0", "down"],
    ]
    up = next(r for r in mine if r.action == "up")
    profile = nm.conns / "wired.nmconnection"
    for run in mine:  # the profile's path and file, into down (its active connection is gone)
        if run.args[0]:
            assert run.env["CONNECTION_DBUS_PATH"] == "/org/freedesktop/NetworkManager/Settings/1"
            assert run.env["CONNECTION_FILENAME"] == str(profile)
            assert "CONNECTION_EXTERNAL" not in run.env
    assert up.env["IP4_ADDRESS_0"] == f"{up.env['DHCP4_IP_ADDRESS']}/24 {ROUTER}"
    assert up.env["IP4_NAMESERVERS"] == "10.231.80.53 10.231.80.54"
    assert up.env["IP4_DOMAINS"] == "lab.example"
    # $0 is the script's path, as under nm-dispatcher: it names itself, finds its library
    assert (up.env["SELF"], up.env["FROM_LIBRARY"]) == ("50-record", LIBRARY_SAYS)
    assert [r.env.get("CONNECTIVITY_STATE") for r in mine if r.args[0] == ""] == ["FULL", "NONE"]
    assert "script.env.dropped" not in daemon.proc.output()


async def test_no_wait_scripts_hold_nothing_and_pre_hooks_never_run(world, netevd, tmp_path):
    built, nm = world
    gate = tmp_path / "gate"
    os.mkfifo(gate, 0o600)
    holder = os.open(gate, os.O_RDWR | os.O_NONBLOCK)  # so a write never blocks the test
    try:
        ours = DispatcherDir(tmp_path / "etc" / "dispatcher.d")
        ours.add_no_wait("10-slow", before=f'read x < "{gate}"')
        ours.add("20-record")
        ours.add_blocking("pre-up", "10-pre")
        ours.add_blocking("pre-down", "10-pre")
        daemon = await netevd(
            built, ScriptDirs(tmp_path / "own"), ns="client", env=nm.env, **compat(ours.root)
        )
        await nm.add_connection("wired", "eth0", uuid=UUID)

        def by(script: str) -> list[list[str]]:
            return [r.args for r in ours.runs() if r.script == script]

        def device_runs_of_20() -> bool:
            return [a for a in by("20-record") if a[0]][:2] == [
                ["eth0", "dhcp4-change"],
                ["eth0", "up"],
            ]

        # 10-slow sorts first but is a no-wait script, blocked on the gate: 20-record of both
        # actions ran meanwhile, in order
        await wait_until(device_runs_of_20, 20, message="20-record's dhcp4-change and up")
        assert by("10-slow") == []
        os.write(holder, b"go\n" * 3)  # dhcp4-change's, up's and connectivity-change's
        await wait_until(lambda: len(by("10-slow")) >= 3, 15, message="the released ones")
        assert sorted(by("10-slow")) == sorted(by("20-record"))
        os.write(holder, b"go\n" * 8)  # let the no-wait scripts of the way down through
        await nm.nmcli("connection", "down", "wired")
        await wait_until(
            lambda: ["eth0", "down"] in by("10-slow") and ["eth0", "down"] in by("20-record"),
            20,
            message="down, by both scripts",
        )
        assert {r.script for r in ours.runs()} == {"10-slow", "20-record"}  # never 10-pre
        output = daemon.proc.output()
        assert output.count("compat.nm_dispatcher.skipped") == 2  # pre-up.d and pre-down.d, once
        assert "cannot make it wait" in output
    finally:
        os.close(holder)


async def test_a_new_hostname_runs_hostname_as_nm_dispatcher_does(lab, netevd, tmp_path):
    """NetworkManager 1.42 dispatches ``hostname`` when its static host name (Settings.Hostname)
    changes (nm-manager.c), which netevd sees; with hostname-mode dhcp/full it dispatches it
    again when it sets the kernel's host name (nm-policy.c), which is not on its bus."""
    built = await lab(networkmanager_dhcp())
    nm = NetworkManagerNode(built.ns("client"), own_hostname=True)  # /etc and UTS its own
    try:
        await nm.start()
        theirs = DispatcherDir(nm.dispatcher_etc)
        theirs.add("50-record")
        await nm.start_dispatcher()
        ours = DispatcherDir(tmp_path / "etc" / "dispatcher.d")
        ours.add("50-record")
        await netevd(
            built, ScriptDirs(tmp_path / "own"), ns="client", env=nm.env, **compat(ours.root)
        )
        await nm.nmcli("general", "hostname", "lab-compat")  # NetworkManager's SaveHostname
        (real,) = await theirs.wait_for("hostname")
        (mine,) = await ours.wait_for("hostname")
        assert mine.args == real.args == ["none", "hostname"]
        assert (
            comparable(mine, NETEVDS_OWN)
            == comparable(real, ())
            == {
                "NM_DISPATCHER_ACTION": "hostname",
                "SELF": "50-record",
                "FROM_LIBRARY": LIBRARY_SAYS,
            }
        )
        manager = check_document(mine.env["NETEVD_JSON"])["manager"]
        assert manager["Hostname"] == "lab-compat"
    finally:
        await nm.stop()


async def test_an_external_activation_runs_up_with_connection_external(lab, netevd, tmp_path):
    """A bridge set up outside NetworkManager (``ip link add``, an address, up): NetworkManager
    1.42 generates an in-memory profile for it and activates it externally ("connected
    (externally)"), and nm-dispatcher runs ``up`` with CONNECTION_EXTERNAL=1 and that profile's
    path and file (under /run). netevd knows it from the active connection's StateFlags
    (NM_ACTIVATION_STATE_FLAG_EXTERNAL) and the profile's Filename."""
    built = await lab(networkmanager_dhcp())
    nm = NetworkManagerNode(built.ns("client"), managed=("eth0", "ext0"))
    try:
        await nm.start()
        theirs = DispatcherDir(nm.dispatcher_etc)
        theirs.add("50-record")
        await nm.start_dispatcher()
        ours = DispatcherDir(tmp_path / "etc" / "dispatcher.d")
        ours.add("50-record")
        scripts = ScriptDirs(tmp_path / "own")
        scripts.add("activated")
        await netevd(built, scripts, ns="client", env=nm.env, **compat(ours.root))
        for argv in (
            ("link", "add", "ext0", "type", "bridge"),
            ("addr", "add", "192.0.2.5/24", "dev", "ext0"),
            ("link", "set", "ext0", "up"),
        ):
            await built.run("client", "ip", *argv)
        (real,) = await theirs.wait_for("up")
        (mine,) = await ours.wait_for("up")
        assert mine.args == real.args == ["ext0", "up"]
        assert comparable(mine, NETEVDS_OWN) == comparable(real, ())
        assert real.env["CONNECTION_EXTERNAL"] == "1"
        assert real.env["CONNECTION_FILENAME"].startswith("/run/NetworkManager/")
        (own,) = await scripts.wait_for(STATE="activated", LINK="ext0")
        for key in ("CONNECTION_EXTERNAL", "CONNECTION_DBUS_PATH", "CONNECTION_FILENAME"):
            assert own.env[key] == real.env[key], key
        document = check_document(own.env["NETEVD_JSON"])["networkmanager"]
        assert document["ConnectionExternal"] == "1"
    finally:
        await nm.stop()
