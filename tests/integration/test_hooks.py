"""The kernel's hook directories on the real daemon: link-added.d, link-removed.d,
address-added.d, address-removed.d (IPv4 and IPv6), mtu.d and gateway.d."""

from lab import host_peer
from lab.netevd import ScriptDirs

HOOKS = ("link-added", "link-removed", "address-added", "address-removed", "mtu", "gateway")
FAST = {"scripts": {"routes_debounce_ms": 50}}


async def test_links_come_and_go(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.46.1/24"], ["10.231.46.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    for hook in HOOKS:
        scripts.add(hook)
    await netevd(built, scripts, **FAST)
    assert scripts.runs() == []  # the start-up replay runs no hook
    await built.run(
        "host", "ip", "link", "add", "vh0", "index", "60", "type", "veth",
        "peer", "name", "vh1", "index", "61",
    )  # fmt: skip
    added = await scripts.wait_for(2, STATE="link-added")
    assert sorted((r.link, r.env["LINKINDEX"], r.env["EVENT"]) for r in added) == [
        ("vh0", "60", "link"),
        ("vh1", "61", "link"),
    ]
    await built.run("host", "ip", "addr", "add", "10.231.47.1/24", "dev", "vh0")
    await scripts.wait_for(STATE="address-added", LINK="vh0")
    await built.run("host", "ip", "link", "del", "vh0")
    gone = await scripts.wait_for(2, STATE="link-removed")
    (vh0,) = [r for r in gone if r.link == "vh0"]
    assert (vh0.env["LINKINDEX"], vh0.env["EVENT"]) == ("60", "link-removed")
    # the kernel reports the link's addresses gone first: address-removed.d, then link-removed.d
    (address,) = await scripts.wait_for(STATE="address-removed", LINK="vh0")
    assert address.env["ADDRESS"] == "10.231.47.1"
    assert "ADDRESSES" not in vh0.env


async def test_addresses_mtu_and_gateways(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.48.1/24"], ["10.231.48.2/24", "10.231.48.3/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    for hook in HOOKS:
        scripts.add(hook)
    await netevd(built, scripts, **FAST)

    await built.run("host", "ip", "addr", "add", "fd00:231:48::1/64", "dev", "eth0", "nodad")
    (six,) = await scripts.wait_for(STATE="address-added", FAMILY="inet6")
    assert {k: six.env[k] for k in ("ADDRESS", "PREFIXLEN", "SCOPE", "EVENT")} == {
        "ADDRESS": "fd00:231:48::1", "PREFIXLEN": "64", "SCOPE": "global",
        "EVENT": "address-added",
    }  # fmt: skip
    await built.run("host", "ip", "addr", "add", "10.231.49.1/24", "dev", "eth0")
    (four,) = await scripts.wait_for(STATE="address-added", FAMILY="inet")
    assert (four.env["ADDRESS"], four.env["PREFIXLEN"]) == ("10.231.49.1", "24")
    await built.run("host", "ip", "addr", "del", "10.231.49.1/24", "dev", "eth0")
    (removed,) = await scripts.wait_for(STATE="address-removed")
    assert removed.env["ADDRESS"] == "10.231.49.1"
    # link-local addresses (the kernel's fe80::/64 on eth0) run no address hook by default
    assert all(
        not r.env["ADDRESS"].startswith("fe80") for r in scripts.matching(STATE="address-added")
    )

    await built.run("host", "ip", "link", "set", "eth0", "mtu", "1400")
    (mtu,) = await scripts.wait_for(STATE="mtu")
    assert (mtu.env["MTU"], mtu.env["MTU_OLD"]) == ("1400", "1500")

    await built.run("host", "ip", "route", "add", "default", "via", "10.231.48.2")
    (new,) = await scripts.wait_for(STATE="gateway", EVENT="new")
    assert (new.env["GATEWAY"], new.env["FAMILY"]) == ("10.231.48.2", "inet")
    assert "GATEWAY_OLD" not in new.env
    await built.run("host", "ip", "route", "replace", "default", "via", "10.231.48.3")
    (changed,) = await scripts.wait_for(STATE="gateway", EVENT="changed")
    assert (changed.env["GATEWAY"], changed.env["GATEWAY_OLD"]) == ("10.231.48.3", "10.231.48.2")
    await built.run("host", "ip", "route", "del", "default")
    (gone,) = await scripts.wait_for(STATE="gateway", EVENT="del")
    assert gone.env["GATEWAY_OLD"] == "10.231.48.3"
    assert "GATEWAY" not in gone.env
    await built.run("host", "ip", "-6", "route", "add", "default", "via", "fd00:231:48::2")
    (v6,) = await scripts.wait_for(STATE="gateway", FAMILY="inet6")
    assert (v6.env["EVENT"], v6.env["GATEWAY"]) == ("new", "fd00:231:48::2")
