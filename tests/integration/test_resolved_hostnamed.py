"""The resolved and hostnamed clients against the real systemd-resolved and systemd-hostnamed
(v252) and the real polkitd on a private bus, sandboxed in a lab namespace
(lab.daemons.systemd_services), and against the fakes for failures the real daemons will not
produce on demand."""

import asyncio
import ipaddress
import json
import os
import socket
import sys
from pathlib import Path

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.introspection import Node

from lab import PrivateBus, Topology
from lab.daemons.systemd_services import NETEVD_USER, SystemdServices, resolved_available
from lab.fakes import FakeHostname1, FakeResolve1
from netevd.bus.caller import DISCONNECTED
from netevd.executors.names.hostnamed import HostnamedClient
from netevd.executors.names.resolved import ResolvedClient
from netevd.telemetry.metrics import Metrics

pytestmark = pytest.mark.dbus
if reason := resolved_available():
    pytestmark = [pytest.mark.dbus, pytest.mark.skip(reason=reason)]

ROOT = Path(__file__).resolve().parents[2]
RULES = (ROOT / "polkit" / "50-netevd.rules").read_text()
IFINDEX = 30
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INTERACTIVE = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"


def topology() -> Topology:
    t = Topology().add_netns("client").add_netns("server")
    return t.add_veth("eth0", "client", "eth0", "server", index=IFINDEX, peer_index=31)


@pytest.fixture
async def services(lab):
    """bus + hostnamed + resolved in the client namespace's sandbox; polkitd is up to the test."""
    built = await lab(topology())
    async with SystemdServices(built.ns("client")) as node:
        await node.start_hostnamed()
        await node.start_resolved()
        yield built, node


async def call(address, destination, path, interface, member, signature="", body=()):
    bus = await MessageBus(bus_address=address).connect()
    try:
        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
        reply = await bus.call(message)
    finally:
        bus.disconnect()
    assert reply.message_type is MessageType.METHOD_RETURN, reply.body
    return reply.body


async def link_property(address, ifindex, name):
    resolve1 = "org.freedesktop.resolve1"
    (path,) = await call(
        address, resolve1, "/org/freedesktop/resolve1", f"{resolve1}.Manager", "GetLink", "i",
        [ifindex],
    )  # fmt: skip
    (value,) = await call(
        address, resolve1, path, "org.freedesktop.DBus.Properties", "Get", "ss",
        [f"{resolve1}.Link", name],
    )  # fmt: skip
    return value.value


async def test_dns_and_search_domains_reach_the_real_resolved(services):
    _, node = services
    metrics = Metrics()
    client = ResolvedClient(env=node.env, metrics=metrics)
    try:
        dns = await client.set_dns(IFINDEX, ["10.231.82.53", "fd00:231:82::53"])
        domains = await client.set_domains(IFINDEX, ["lab.test", "example.org"])
        assert (dns.ok, domains.ok) == (True, True)
        servers = await link_property(node.address, IFINDEX, "DNS")
        v6 = ipaddress.IPv6Address("fd00:231:82::53").packed
        assert [(f, bytes(a)) for f, a in servers] == [(2, bytes([10, 231, 82, 53])), (10, v6)]
        domains = await link_property(node.address, IFINDEX, "Domains")
        assert [tuple(d) for d in domains] == [("lab.test", False), ("example.org", False)]
        status = await node.resolvectl("status", "eth0")
        assert "DNS Servers: 10.231.82.53 fd00:231:82::53" in status
        again = await client.set_dns(IFINDEX, ["10.231.82.53", "fd00:231:82::53"])
        assert not again.called  # the same servers: nothing sent
        assert client.counts["call.SetLinkDNS.ok"] == 1
        assert (await client.revert(IFINDEX)).ok
        assert await link_property(node.address, IFINDEX, "DNS") == []
        text = metrics.exposition().decode()
        assert 'netevd_dbus_calls_total{method="SetLinkDNS",service="systemd-resolved"} 1.0' in text
    finally:
        await client.close()


async def test_refusals_by_the_real_resolved_are_counted_and_retried(services):
    built, node = services
    client = ResolvedClient(env=node.env)
    try:
        busy = await client.set_dns(1, ["10.231.82.53"])
        assert busy.error == "org.freedesktop.resolve1.LinkBusy"  # loopback
        missing = await client.set_dns(40, ["10.231.82.53"])
        assert missing.error == "org.freedesktop.resolve1.NoSuchLink"
        assert client.pending == {(1, "dns"): ("10.231.82.53",), (40, "dns"): ("10.231.82.53",)}
        assert client.counts["error.org.freedesktop.resolve1.NoSuchLink"] == 1
        async with built.ipr("client") as ipr:  # the link appears
            await ipr.link("add", ifname="late", kind="veth", index=40, peer={"ifname": "late-p"})
        retried = await client.retry()
        assert [o.error for o in retried] == ["org.freedesktop.resolve1.LinkBusy", ""]
        servers = await link_property(node.address, 40, "DNS")
        assert [(f, bytes(a)) for f, a in servers] == [(2, bytes([10, 231, 82, 53]))]
        assert client.pending == {(1, "dns"): ("10.231.82.53",)}
    finally:
        await client.close()


async def test_the_real_hostnamed_sets_the_transient_name(services):
    _, node = services
    host = socket.gethostname()
    client = HostnamedClient(env=node.env)
    try:
        assert await node.hostname() == "lab-initial"
        assert (await client.set_hostname("client-one")).ok
        assert await node.hostname() == "client-one"
        hostname1 = ("org.freedesktop.hostname1", "/org/freedesktop/hostname1")
        props = "org.freedesktop.DBus.Properties"
        (source,) = await call(
            node.address, *hostname1, props, "Get", "ss", [hostname1[0], "HostnameSource"]
        )
        assert source.value == "transient"
        assert not (await client.set_hostname("client-one")).called
        refused = await client.set_hostname("bad_name")  # never sent: checked first
        assert (refused.error, refused.called) == ("netevd.Error.Invalid", False)
        assert client.counts["call.SetHostname.ok"] == 1
    finally:
        await client.close()
    assert socket.gethostname() == host


async def test_a_static_hostname_wins_over_the_transient_one(lab):
    built = await lab(topology())
    async with SystemdServices(built.ns("client"), static_hostname="static-one") as node:
        await node.start_hostnamed()
        client = HostnamedClient(env=node.env)
        try:
            assert (await client.set_hostname("client-one")).ok  # accepted...
            assert await node.hostname() == "static-one"  # ...but /etc/hostname decides
        finally:
            await client.close()


async def as_user(node, uid):
    argv = [sys.executable, str(Path(__file__).parent / "dbus_as_user.py"), str(uid)]
    argv += [node.address, str(IFINDEX), f"client-{uid}"]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={
            "PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"
        },
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


async def test_polkit_lets_netevd_make_exactly_its_calls(lab):
    built = await lab(topology())
    rules = {"50-netevd.rules": RULES}
    async with SystemdServices(built.ns("client"), polkit_rules=rules) as node:
        await node.start_hostnamed()
        await node.start_resolved()
        uid = NETEVD_USER[1]
        assert await as_user(node, uid) == {  # no polkitd: whoever is not root is refused
            "SetLinkDNS": ACCESS_DENIED,
            "SetLinkDomains": ACCESS_DENIED,
            "RevertLink": ACCESS_DENIED,
            "SetHostname": ACCESS_DENIED,
            "SetStaticHostname": ACCESS_DENIED,
        }
        await node.start_polkitd()
        assert await as_user(node, uid) == {  # the rule: these four, nothing else
            "SetLinkDNS": "",
            "SetLinkDomains": "",
            "RevertLink": "",
            "SetHostname": "",
            "SetStaticHostname": INTERACTIVE,
        }
        assert await node.hostname() == f"client-{uid}"
        assert set((await as_user(node, 65534)).values()) == {INTERACTIVE}  # nobody else


async def test_failures_on_demand_are_counted_and_retried(tmp_path):
    async with PrivateBus(tmp_path / "bus") as bus, FakeResolve1(bus.address) as resolve1:
        async with FakeHostname1(bus.address) as hostname1:
            resolved = ResolvedClient(env=bus.env)
            hostnamed = HostnamedClient(env=bus.env)
            resolve1.fail("SetLinkDomains", ACCESS_DENIED, "Permission denied", times=1)
            hostname1.fail("SetHostname", INTERACTIVE, times=1)
            failed = await resolved.set_domains(5, ["lab.test"])
            assert (failed.error, failed.detail) == (ACCESS_DENIED, "Permission denied")
            assert (await hostnamed.set_hostname("client-one")).error == INTERACTIVE
            assert resolved.pending == {(5, "domains"): ("lab.test",)}
            assert hostnamed.pending == "client-one"
            assert [o.ok for o in await resolved.retry()] == [True]
            assert (await hostnamed.retry()).ok
            assert resolve1.made("SetLinkDomains", ok=False) == [(5, [("lab.test", False)])]
            assert resolve1.made("SetLinkDomains") == [(5, [("lab.test", False)])]
            assert hostname1.made("SetHostname") == [("client-one", False)]
            assert resolved.counts[f"error.{ACCESS_DENIED}"] == 1
            assert (resolved.pending, hostnamed.pending) == ({}, None)
        # hostnamed's name is gone from the bus: the bus says so, the client remembers
        gone = await hostnamed.set_hostname("client-two")
        assert gone.error == "org.freedesktop.DBus.Error.ServiceUnknown"
        assert hostnamed.pending == "client-two"
        await resolved.close()
        await hostnamed.close()


async def test_a_lost_bus_is_reconnected(tmp_path):
    bus = PrivateBus(tmp_path / "bus")
    await bus.start()
    client = ResolvedClient(env=bus.env, call_timeout=2)
    try:
        async with FakeResolve1(bus.address) as fake:
            assert (await client.set_dns(5, ["10.0.0.53"])).ok
        await bus.stop()
        lost = await client.set_dns(5, ["10.0.0.54"])
        assert lost.error == DISCONNECTED
        bus = PrivateBus(tmp_path / "bus")
        await bus.start()
        async with FakeResolve1(bus.address) as fake:
            assert [o.ok for o in await client.retry()] == [True]
            assert fake.made("SetLinkDNS") == [(5, [(2, bytes([10, 0, 0, 54]))])]
    finally:
        await client.close()
        await bus.stop()


def shape(interface):
    methods = {
        m.name: ([a.signature for a in m.in_args], [a.signature for a in m.out_args])
        for m in interface.methods
    }
    props = {p.name: (p.signature, p.access.value) for p in interface.properties}
    return methods, props


async def introspect(address, name, path):
    (xml,) = await call(address, name, path, "org.freedesktop.DBus.Introspectable", "Introspect")
    return {i.name: i for i in Node.parse(xml).interfaces}


@pytest.mark.parametrize(
    ("name", "path", "interface", "recording"),
    [
        ("org.freedesktop.resolve1", "/org/freedesktop/resolve1",
         "org.freedesktop.resolve1.Manager", "resolve1-manager-252.xml"),
        ("org.freedesktop.hostname1", "/org/freedesktop/hostname1",
         "org.freedesktop.hostname1", "hostname1-252.xml"),
    ],
)  # fmt: skip
async def test_fakes_and_recordings_match_the_live_daemons(
    services, tmp_path, name, path, interface, recording
):
    _, node = services
    real = shape((await introspect(node.address, name, path))[interface])
    recorded = Node.parse((ROOT / "tests/unit/data/dbus" / recording).read_text())
    assert shape(next(i for i in recorded.interfaces if i.name == interface)) == real
    async with PrivateBus(tmp_path / "bus") as bus:
        fake_class = FakeResolve1 if "resolve1" in name else FakeHostname1
        async with fake_class(bus.address):
            ours = shape((await introspect(bus.address, name, path))[interface])
    assert ours[0]
    for kind, mine, theirs in zip(("method", "property"), ours, real, strict=True):
        for member, signature in mine.items():
            assert theirs.get(member) == signature, f"{interface}.{member}: {kind} differs"
