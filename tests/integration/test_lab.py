"""The lab builds every shipped topology on the real kernel and leaves nothing behind."""

import os
import signal
import subprocess
import sys

import pytest

from lab import (
    ROOT,
    DhclientClient,
    DnsmasqServer,
    Lab,
    LabError,
    ManagedProcess,
    Topology,
    wait_until,
)
from lab.cli import STATE_DIR
from lab.net.build import root_link_names, run_command
from lab.net.netns import list_netns, netns_pids
from lab.net.topologies import DHCP_POOL, DHCP_ROUTER, bridge, dhcp, multihomed


async def ping(lab: Lab, ns: str, target: str, *, count: int = 1) -> bool:
    family = "-6" if ":" in target else "-4"
    result = await lab.run(
        ns, "ping", family, "-c", str(count), "-W", "1", "-n", target, check=False
    )
    return result.returncode == 0


def addresses(entries: list[dict], name: str) -> set[str]:
    for entry in entries:
        if entry["ifname"] == name:
            return {
                f"{a['local']}/{a['prefixlen']}"
                for a in entry["addr_info"]
                if a["scope"] == "global"
            }
    raise AssertionError(f"no link {name}")


async def test_multihomed_builds_and_shows_the_broken_return_path(lab):
    built = await lab(multihomed())
    host = await built.ip_json("host", "addr")
    assert addresses(host, "eth0") == {"10.231.1.2/24", "fd00:231:1::2/64"}
    assert addresses(host, "eth1") == {"10.231.2.2/24", "fd00:231:2::2/64"}
    assert {(e["ifname"], e["ifindex"]) for e in host} >= {("eth0", 10), ("eth1", 12)}
    routes = await built.ip_json("host", "route", "show", "default")
    assert [(r["gateway"], r["dev"], r["metric"]) for r in routes] == [
        ("10.231.1.1", "eth0", 100),
        ("10.231.2.1", "eth1", 200),
    ]
    routes6 = await built.ip_json("host", "-6", "route", "show", "default")
    assert [(r["gateway"], r["dev"], r["metric"]) for r in routes6] == [
        ("fd00:231:1::1", "eth0", 100),
        ("fd00:231:2::1", "eth1", 200),
    ]
    forwarding = await built.run("r2", "cat", "/proc/sys/net/ipv4/ip_forward")
    assert forwarding.stdout.strip() == "1"
    assert await ping(built, "host", "10.231.1.1")
    assert await ping(built, "client", "10.231.3.1")
    assert await ping(built, "client", "fd00:231:3::1")
    # The classic failure: the reply to the client leaves the host via eth0 and r1 drops it.
    assert not await ping(built, "client", "10.231.2.2")
    assert not await ping(built, "client", "fd00:231:2::2")


async def test_bridge_topology_forwards_between_ports(lab):
    built = await lab(bridge())
    links = await built.ip_json("sw", "link")
    masters = {e["ifname"]: e.get("master") for e in links}
    assert masters["pa"] == "br0"
    assert masters["pb"] == "br0"
    assert await ping(built, "a", "10.231.60.3")
    assert await ping(built, "b", "fd00:231:60::2")
    assert await ping(built, "a", "10.231.60.1")


async def test_dhcp_topology_gives_a_real_lease(lab, tmp_path):
    built = await lab(dhcp())
    server = DnsmasqServer(
        built.ns("server"),
        "eth0",
        tmp_path / "srv",
        pool=DHCP_POOL,
        router=DHCP_ROUTER,
        dns=("10.231.50.53",),
        domain="lab.test",
    )
    await built.start_process(server)
    await server.wait_ready()
    client = DhclientClient(built.ns("client"), "eth0", tmp_path / "cli")
    await built.start_process(client)
    bound = await client.wait_bound()
    assert DHCP_POOL[0] <= bound <= DHCP_POOL[1]
    got = addresses(await built.ip_json("client", "addr"), "eth0")
    assert got == {f"{bound}/24"}
    routes = await built.ip_json("client", "route", "show", "default")
    assert [r["gateway"] for r in routes] == [DHCP_ROUTER]
    lease = client.lease_file.read_text()
    assert f"fixed-address {bound};" in lease
    assert 'option domain-name "lab.test";' in lease
    # dhclient-script wrote the DNS server into the shadow file, not the host's resolv.conf.
    assert "10.231.50.53" in client.resolv_conf.read_text()
    with open("/etc/resolv.conf") as fh:
        assert "10.231.50.53" not in fh.read()


async def _build_then_fail(lab: Lab, pids: list[int], strays: list[subprocess.Popen]) -> None:
    async with lab:
        proc = await lab.start_process(ManagedProcess(["sleep", "300"], netns=lab.ns("client")))
        pids.append(proc.pid)
        stray = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("r1"), "sleep", "300"], start_new_session=True
        )
        pids.append(stray.pid)
        strays.append(stray)
        assert await wait_until(lambda: set(netns_pids(lab.ns("r1"))) == {stray.pid})
        raise RuntimeError("boom")


async def test_teardown_after_the_body_raised_leaves_nothing():
    lab = Lab(multihomed())
    pids: list[int] = []
    strays: list[subprocess.Popen] = []
    with pytest.raises(RuntimeError, match="boom"):
        await _build_then_fail(lab, pids, strays)
    # the stray was killed because it lived in the namespace; reap it (it is our child)
    stray = strays.pop()
    assert stray.wait(timeout=5) == -signal.SIGTERM
    assert lab.leftovers() == []
    assert not any(n.startswith(lab.prefix) for n in list_netns())
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")


async def test_a_failed_build_removes_what_it_made():
    topo = Topology().add_netns("a").add_netns("b")
    topo.add_veth("v0", "a", "v1", "b")
    topo.add_link("d0", "a", "dummy")  # this kernel has no dummy driver
    lab = Lab(topo)
    with pytest.raises(LabError) as info:
        await lab.build()
    if "refused link kind" in str(info.value):
        assert str(info.value) == (
            "the kernel refused link kind 'dummy' for 'd0' in 'a': Operation not supported "
            "(this kernel has no such driver; build topologies from veth and bridges)"
        )
    assert lab.leftovers() == []


async def test_root_namespace_links_only_when_asked_and_removed(lab):
    topo = Topology().add_netns("n")
    topo.add_veth("rt0", ROOT, "eth0", "n", root_ok=True)
    before = set(root_link_names())
    built = await lab(topo)
    name = built.prefix + "rt0"
    assert name in root_link_names()
    await built.teardown()
    assert set(root_link_names()) == before


async def test_chosen_ifindex_and_links_left_down(lab):
    topo = Topology().add_netns("a").add_netns("b")
    topo.add_veth("x0", "a", "y0", "b", index=4242, peer_index=4343, peer_up=False)
    built = await lab(topo)
    a = {e["ifname"]: e for e in await built.ip_json("a", "link")}
    b = {e["ifname"]: e for e in await built.ip_json("b", "link")}
    assert a["x0"]["ifindex"] == 4242
    assert b["y0"]["ifindex"] == 4343
    assert "UP" not in b["y0"]["flags"]
    assert "NO-CARRIER" in a["x0"]["flags"]


async def test_private_bus_is_private(private_bus):
    from dbus_fast import RequestNameReply
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=private_bus.address).connect()
    try:
        node = await bus.introspect("org.freedesktop.DBus", "/org/freedesktop/DBus")
        assert "org.freedesktop.DBus" in {i.name for i in node.interfaces}
        reply = await bus.request_name("org.netevd.Test")
        assert reply == RequestNameReply.PRIMARY_OWNER  # root may own names on this bus
    finally:
        bus.disconnect()
    assert private_bus.address != os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    assert private_bus.socket.exists()


def test_cli_up_list_down_restores_netns_list():
    prefix = "nvcli" + str(os.getpid() % 100000) + "-"
    assert not [n for n in list_netns() if n.startswith(prefix)]
    run = [sys.executable, "-m", "lab"]
    up = subprocess.run(
        [*run, "up", "multihomed", "--prefix", prefix], capture_output=True, text=True
    )
    try:
        assert up.returncode == 0, up.stderr
        assert f"ip -n {prefix}host -br addr" in up.stdout
        listed = subprocess.run([*run, "list"], capture_output=True, text=True, check=True)
        assert f"{prefix}  multihomed  4/4 namespaces: {prefix}host" in listed.stdout
        again = subprocess.run(
            [*run, "up", "multihomed", "--prefix", prefix], capture_output=True, text=True
        )
        assert again.returncode == 1
        assert f"a lab with prefix {prefix!r} is already up" in again.stderr
    finally:
        down = subprocess.run([*run, "down", "--prefix", prefix], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert f"removed netns {prefix}host" in down.stdout
    # only this run's names: parallel workers create and remove their own meanwhile
    assert [n for n in list_netns() if n.startswith(prefix)] == []


def test_cleanup_also_forgets_the_manifest_so_up_works_again():
    prefix = "nvcln" + str(os.getpid() % 100000) + "-"  # at most 11 characters
    run = [sys.executable, "-m", "lab"]
    up = subprocess.run([*run, "up", "bridge", "--prefix", prefix], capture_output=True, text=True)
    try:
        assert up.returncode == 0, up.stderr
        manifest = STATE_DIR / f"{prefix.rstrip('-')}.json"
        assert manifest.exists()
        cleaned = subprocess.run(
            [*run, "cleanup", "--prefix", prefix], capture_output=True, text=True, check=True
        )
        assert f"removed netns {prefix}sw" in cleaned.stdout
        assert f"removed manifest {manifest}" in cleaned.stdout
        assert not manifest.exists()
        again = subprocess.run(
            [*run, "up", "bridge", "--prefix", prefix], capture_output=True, text=True
        )
        assert again.returncode == 0, again.stderr
    finally:
        down = subprocess.run([*run, "down", "--prefix", prefix], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert [n for n in list_netns() if n.startswith(prefix)] == []
    assert not (STATE_DIR / f"{prefix.rstrip('-')}.json").exists()


def test_cleanup_touches_only_its_prefix():
    mine, other = (
        "nvmine" + str(os.getpid() % 10000) + "-",
        "nvother" + str(os.getpid() % 10000) + "-",
    )
    for name in (mine + "a", other + "a"):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "lab", "cleanup", "--prefix", mine],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == f"removed netns {mine}a"
        assert other + "a" in list_netns()
        assert mine + "a" not in list_netns()
    finally:
        subprocess.run(["ip", "netns", "del", other + "a"], check=False)
        subprocess.run(["ip", "netns", "del", mine + "a"], check=False, capture_output=True)


async def test_run_command_reports_failures():
    with pytest.raises(LabError, match=r"^false failed with exit code 1"):
        await run_command(["false"])
