"""Policy routing on the real kernel, proven with real packets (the multihomed lab)."""

import asyncio
import json
import signal
import subprocess
import sys

from lab import host_peer, wait_until
from lab.net.topologies import multihomed
from lab.netevd import ScriptDirs

PROTO = 78
CLIENT_V4, CLIENT_V6 = "10.231.3.2", "fd00:231:3::2"
HOST_ETH1_V4, HOST_ETH1_V6 = "10.231.2.2", "fd00:231:2::2"
TABLE = 212  # table_base 200 + ifindex 12 of the host's eth1


async def ping(lab, ns, target):
    family = "-6" if ":" in target else "-4"
    result = await lab.run(ns, "ping", family, "-c", "1", "-W", "1", "-n", target, check=False)
    return result.returncode == 0


async def rules(lab, family="-4"):
    return await lab.ip_json("host", family, "rule", "show")


async def ours(lab, family="-4"):
    return [r for r in await rules(lab, family) if r.get("protocol") in (PROTO, str(PROTO))]


async def table(lab, family="-4", number=TABLE):
    return await lab.ip_json("host", family, "route", "show", "table", str(number))


def policy(tmp_path, **routing) -> dict:
    """The configuration sections every test here runs netevd with: eth1 is policy-routed."""
    return {
        "routing": {"policy_rules": ["eth1"], **routing},
        "system": {"state_dir": str(tmp_path / "state")},
    }


def rule_set(entries):
    def side(value):
        return None if value in (None, "all") else value

    return {(side(r.get("src")), side(r.get("dst")), r["table"], r["priority"]) for r in entries}


async def converged(lab, want_rules, family="-4"):
    async def check():
        return rule_set(await ours(lab, family)) == want_rules

    await wait_until(check, timeout=15, message=f"netevd's {family} rules to be {want_rules}")


async def test_replies_leave_by_the_interface_they_came_in_on(lab, netevd, tmp_path):
    built = await lab(multihomed())
    assert not await ping(built, "client", HOST_ETH1_V4)
    assert not await ping(built, "client", HOST_ETH1_V6)
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("carrier")
    sock = tmp_path / "api.sock"
    daemon = await netevd(built, scripts, api={"socket": str(sock)}, **policy(tmp_path))
    await converged(
        built, {(HOST_ETH1_V4, None, str(TABLE), 30000), (None, HOST_ETH1_V4, str(TABLE), 30001)}
    )
    await converged(
        built,
        {(HOST_ETH1_V6, None, str(TABLE), 30000), (None, HOST_ETH1_V6, str(TABLE), 30001)},
        "-6",
    )
    routes4 = {(r["dst"], r.get("gateway"), r["dev"], r["protocol"]) for r in await table(built)}
    assert routes4 == {
        ("default", "10.231.2.1", "eth1", str(PROTO)),
        ("10.231.2.0/24", None, "eth1", str(PROTO)),
    }
    routes6 = {(r["dst"], r.get("gateway"), r["dev"]) for r in await table(built, "-6")}
    assert routes6 == {("default", "fd00:231:2::1", "eth1"), ("fd00:231:2::/64", None, "eth1")}
    assert await wait_until(lambda: ping(built, "client", HOST_ETH1_V4), timeout=5)
    assert await ping(built, "client", HOST_ETH1_V6)
    # the primary uplink is untouched: main still prefers r1 and eth0 gets no rules
    assert not any(r.get("src") == "10.231.1.2" for r in await rules(built))
    (run,) = await scripts.wait_for(STATE="carrier", LINK="eth1")
    assert run.env["TABLE"] == str(TABLE)
    assert "TABLE" not in scripts.matching(STATE="carrier", LINK="eth0")[0].env
    state = json.loads((tmp_path / "state" / "tables.json").read_text())
    assert state == {"version": 1, "tables": {"eth1": TABLE}}
    assert (await daemon.api.data("/api/v1/interfaces/eth1"))["table"] == TABLE
    assert (await daemon.api.data("/api/v1/interfaces/eth0"))["table"] is None
    # what the routing executor did is an event of its own kind, for the API and the CLI
    cli = [sys.executable, "-m", "netevd", "events", "-t", "routing", "--format", "json"]
    done = await asyncio.to_thread(
        subprocess.run, [*cli, "--endpoint", f"unix:{sock}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    applied = json.loads(done.stdout)
    assert {e["type"] for e in applied} == {"routing"}
    assert sum(e["detail"]["added_rules"] for e in applied) == 4  # from/to, IPv4 and IPv6


async def test_addresses_come_and_go_and_the_users_rule_stays(lab, netevd, tmp_path):
    built = await lab(multihomed())
    await built.run(
        "host", "ip", "rule", "add", "from", "10.231.2.2", "lookup", "main", "priority", "100"
    )
    await netevd(built, ScriptDirs(tmp_path / "scripts"), **policy(tmp_path, to_rules=False))
    await converged(built, {(HOST_ETH1_V4, None, str(TABLE), 30000)})
    await built.run("host", "ip", "addr", "add", "10.231.20.3/24", "dev", "eth1")
    await converged(
        built, {(HOST_ETH1_V4, None, str(TABLE), 30000), ("10.231.20.3", None, str(TABLE), 30000)}
    )
    # (a second subnet: deleting a primary address takes its subnet's secondaries with it)
    await built.run("host", "ip", "addr", "del", "10.231.2.2/24", "dev", "eth1")
    await converged(built, {("10.231.20.3", None, str(TABLE), 30000)})
    user = [r for r in await rules(built) if r["priority"] == 100]
    assert [(r["src"], r["table"]) for r in user] == [("10.231.2.2", "main")]
    await built.run("host", "ip", "link", "del", "eth1")
    await converged(built, set())
    await converged(built, set(), "-6")
    assert await table(built) == []
    assert await table(built, "-6") == []
    assert [r["priority"] for r in await rules(built) if r["priority"] == 100] == [100]


async def test_crash_restart_reconciles_and_deleted_rules_come_back(lab, netevd, tmp_path):
    built = await lab(multihomed())
    scripts, sections = ScriptDirs(tmp_path / "scripts"), policy(tmp_path, to_rules=False)
    proc = (await netevd(built, scripts, **sections)).proc
    await converged(built, {(HOST_ETH1_V4, None, str(TABLE), 30000)})
    proc.send_signal(signal.SIGKILL)
    await proc.wait_exit(10)
    await built.run("host", "ip", "addr", "del", "10.231.2.2/24", "dev", "eth1")
    await built.run("host", "ip", "addr", "add", "10.231.2.9/24", "dev", "eth1")
    await built.run(
        "host", "ip", "route", "add", "default", "via", "10.231.2.1", "dev", "eth1", "metric", "200"
    )
    proc = (await netevd(built, scripts, **sections)).proc
    await converged(built, {("10.231.2.9", None, str(TABLE), 30000)})
    entries = await ours(built)
    assert len(entries) == len(rule_set(entries))  # nothing duplicated
    await built.run(
        "host", "ip", "rule", "del", "from", "10.231.2.9", "lookup", str(TABLE), "priority", "30000"
    )
    await converged(built, {("10.231.2.9", None, str(TABLE), 30000)})
    await proc.wait_for_log(r"routing\.readded count=1")
    await built.run("host", "ip", "route", "del", "default", "table", str(TABLE))
    await wait_until(lambda: any_default(built), timeout=15)


async def any_default(built):
    return any(r["dst"] == "default" for r in await table(built))


# eth1 with ifindex 54: table_base 200 + 54 would be main (254)
INDEX54 = host_peer(
    ["10.231.5.2/24"], ["10.231.5.1/24"], gateway="10.231.5.1", link="eth1", index=54, peer_index=55
)


async def test_a_table_that_would_be_main_is_moved_and_kept(lab, netevd, tmp_path):
    built = await lab(INDEX54)
    main_before = await built.ip_json("host", "route", "show", "table", "main")
    scripts, sections = ScriptDirs(tmp_path / "scripts"), policy(tmp_path, to_rules=False)
    proc = (await netevd(built, scripts, **sections)).proc
    await converged(built, {("10.231.5.2", None, "256", 30000)})
    await proc.wait_for_log(r"routing\.table link=eth1 table=256")
    assert await built.ip_json("host", "route", "show", "table", "main") == main_before
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait_exit(15) == 0
    proc = (await netevd(built, scripts, **sections)).proc
    await proc.wait_for_log(r"routing\.tables eth1=256")  # remembered
    await converged(built, {("10.231.5.2", None, "256", 30000)})
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait_exit(15) == 0
    # A foreign route now sits in 256: the remembered table is given up (issue 10, attack 4).
    await built.run(
        "host", "ip", "route", "add", "10.99.0.0/16", "via", "10.231.5.1", "table", "256"
    )
    proc = (await netevd(built, scripts, **sections)).proc
    await proc.wait_for_log(r"routing\.table\.given_up link=eth1 table=256 new_table=257")
    await converged(built, {("10.231.5.2", None, "257", 30000)})
    assert await built.ip_json("host", "route", "show", "table", "main") == main_before


async def test_cleanup_on_exit_removes_everything_netevd_installed(lab, netevd, tmp_path):
    built = await lab(multihomed())
    sections = policy(tmp_path, cleanup_on_exit=True)
    proc = (await netevd(built, ScriptDirs(tmp_path / "scripts"), **sections)).proc
    await converged(
        built, {(HOST_ETH1_V4, None, str(TABLE), 30000), (None, HOST_ETH1_V4, str(TABLE), 30001)}
    )
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait_exit(15) == 0
    assert await ours(built) == []
    assert await ours(built, "-6") == []
    assert await table(built) == []
