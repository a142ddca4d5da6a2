"""netevd against a fake org.freedesktop.network1 that lies, and one that describes too much.

The fake owns the name on a private bus; netevd runs in a namespace whose eth0 (ifindex 40) is
the link the fake speaks of. What the real networkd cannot be made to do on demand is done here:
wrong signatures, a state string like ``../../tmp/x``, a path with a broken escape, a peer that is
not the name's owner, and a Describe() larger than one environment string may be.
"""

import json
from pathlib import Path

import pytest
from dbus_fast import Variant

from lab import host_peer, wait_until
from lab.fakes import FakeNetwork1
from lab.netevd import ScriptDirs

pytestmark = pytest.mark.dbus  # each test starts its own dbus-daemon

LINK = "/org/freedesktop/network1/link/_340"
LINK_IFACE = "org.freedesktop.network1.Link"
STATES = ("routable", "configured", "degraded", "configuring", "off", "carrier", "manager")
NETWORKD = {"backend": "systemd-networkd"}


@pytest.fixture
async def world(lab, tmp_path, private_bus):
    built = await lab(host_peer(index=40, peer_index=41))
    async with FakeNetwork1(private_bus.address) as fake:
        fake.add_link(40, "eth0", OperationalState="carrier", AdministrativeState="configuring")
        fake.manager.states.update(OperationalState="carrier")
        yield built, fake, private_bus


def props(**values) -> list:
    return [
        LINK_IFACE,
        {k: v if isinstance(v, Variant) else Variant("s", v) for k, v in values.items()},
        [],
    ]


async def test_lies_run_nothing_and_are_counted(world, netevd, tmp_path):
    built, fake, bus = world
    scripts = ScriptDirs(tmp_path / "scripts")
    for state in STATES:
        scripts.add(state)
    proc = (await netevd(built, scripts, env=bus.env, system=NETWORKD)).proc
    await scripts.wait_for(STATE="configuring", NETEVD_REPLAY="1")
    # from the name's owner: the wrong signature, absurd values, a broken path
    await fake.send_raw(LINK, "sa{ss}as", [LINK_IFACE, {"OperationalState": "routable"}, []])
    await fake.send_raw(LINK, "sa{sv}as", props(OperationalState="../../tmp/x"))
    await fake.send_raw(
        LINK, "sa{sv}as", props(AdministrativeState="configured", OnlineState="x" * 65)
    )
    await fake.send_raw(LINK, "sa{sv}as", props(OperationalState=Variant("u", 9)))
    await fake.send_raw(LINK[:-2] + "g", "sa{sv}as", props(OperationalState="routable"))
    # from a peer that is not the owner, addressed to every connection (netevd's among them)
    async with FakeNetwork1(bus.address, own_name=False) as liar:
        for name in await bus.names():
            if name not in (fake.unique_name, liar.unique_name):
                await liar.send_raw(
                    LINK, "sa{sv}as", props(OperationalState="routable"), destination=name
                )
    for reason in ("signature", "value", "type", "path", "sender"):
        await proc.wait_for_log(rf"networkd\.rejected reason={reason} count=1 ")
    await proc.wait_for_log(r"networkd\.rejected reason=value count=2 ")
    # a true change afterwards still runs, and nothing before it did
    fake.set_link(40, OperationalState="degraded")
    (run,) = await scripts.wait_for(STATE="degraded")
    assert run.env["OperationalState"] == "degraded"
    ran = {(r.state, r.env["NETEVD_REPLAY"]) for r in scripts.runs()}
    # the kernel's replay (carrier), the fake's replay (configuring, manager), the true change
    assert ran == {("carrier", "1"), ("configuring", "1"), ("manager", "1"), ("degraded", "0")}
    assert not Path("/tmp/x.d").exists()
    assert proc.running


async def test_a_describe_too_large_for_the_environment_comes_by_file(world, netevd, tmp_path):
    built, fake, bus = world
    big = json.dumps({"Index": 40, "Name": "eth0", "Pad": "x" * 300_000}, separators=(",", ":"))
    fake.links[40].describe_override = big
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("routable", extra='cp "$NETEVD_JSON_FILE" "$f.tmp" && mv "$f.tmp" "$f.json"')
    scripts.add("configured")
    await netevd(built, scripts, env=bus.env, system=NETWORKD)
    fake.set_link(40, OperationalState="routable")
    (run,) = await scripts.wait_for(STATE="routable", NETEVD_REPLAY="0")
    assert "JSON" not in run.env
    assert run.env["NETEVD_JSON_FILE"].startswith("/")
    copy = scripts.out / run.script.replace(".env", ".json")
    # The recorder writes the environment first, then copies the file: wait for the copy.
    await wait_until(copy.exists, 10, message=f"{copy} copied by the script")
    assert copy.read_text() == big  # verbatim
    large = Path(run.env["NETEVD_JSON_FILE"])
    # removed once the run has ended, which is after the script's last line
    await wait_until(lambda: not large.exists(), 10, message=f"{large} removed after the run")
    fake.links[40].describe_override = None
    fake.set_link(40, AdministrativeState="configured")
    (run,) = await scripts.wait_for(STATE="configured", NETEVD_REPLAY="0")
    assert run.env["JSON"] == fake.links[40].describe_text()


async def test_emit_json_off_asks_for_no_describe(world, netevd, tmp_path):
    built, fake, bus = world
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("routable")
    off = {"systemd_networkd": {"emit_json": False}}
    await netevd(built, scripts, env=bus.env, system=NETWORKD, backends=off)
    fake.set_link(40, OperationalState="routable")
    (run,) = await scripts.wait_for(STATE="routable", NETEVD_REPLAY="0")
    assert "JSON" not in run.env
    assert "NETEVD_JSON_FILE" not in run.env
