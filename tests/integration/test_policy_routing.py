"""Policy routing on the real kernel, proven with real packets (the multihomed lab)."""

import json
import signal

from api_support import ns_session

from lab import Topology, wait_until
from lab.netevd import NetevdProcess, ScriptDirs, netevd_config, write_config
from lab.topologies import multihomed

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


def config_for(tmp_path, *, api=False, **routing):
    scripts = ScriptDirs(tmp_path / "scripts")
    return scripts, write_config(
        tmp_path / "netevd.yaml",
        netevd_config(
            scripts,
            routing={"policy_rules": ["eth1"], **routing},
            system={"state_dir": str(tmp_path / "state")},
            api={"enabled": api},
        ),
    )


async def start(built, config):
    proc = await built.start_process(NetevdProcess(built.ns("host"), config))
    await proc.wait_ready()
    return proc


def rule_set(entries):
    def side(value):
        return None if value in (None, "all") else value

    return {(side(r.get("src")), side(r.get("dst")), r["table"], r["priority"]) for r in entries}


async def converged(lab, want_rules, family="-4"):
    async def check():
        return rule_set(await ours(lab, family)) == want_rules

    await wait_until(check, timeout=15, message=f"netevd's {family} rules to be {want_rules}")


async def test_replies_leave_by_the_interface_they_came_in_on(lab, tmp_path):
    built = await lab(multihomed())
    assert not await ping(built, "client", HOST_ETH1_V4)
    assert not await ping(built, "client", HOST_ETH1_V6)
    scripts, config = config_for(tmp_path, api=True)
    scripts.add("carrier")
    await start(built, config)
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
    async with ns_session(built.ns("host")) as http:
        async with http.get("http://127.0.0.1:9090/api/v1/interfaces/eth1") as reply:
            assert (await reply.json())["data"]["table"] == TABLE
        async with http.get("http://127.0.0.1:9090/api/v1/interfaces/eth0") as reply:
            assert (await reply.json())["data"]["table"] is None


async def test_addresses_come_and_go_and_the_users_rule_stays(lab, tmp_path):
    built = await lab(multihomed())
    await built.run(
        "host", "ip", "rule", "add", "from", "10.231.2.2", "lookup", "main", "priority", "100"
    )
    _, config = config_for(tmp_path, to_rules=False)
    await start(built, config)
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


async def test_crash_restart_reconciles_and_deleted_rules_come_back(lab, tmp_path):
    built = await lab(multihomed())
    _, config = config_for(tmp_path, to_rules=False)
    proc = await start(built, config)
    await converged(built, {(HOST_ETH1_V4, None, str(TABLE), 30000)})
    proc.send_signal(signal.SIGKILL)
    await proc.wait_exit(10)
    await built.run("host", "ip", "addr", "del", "10.231.2.2/24", "dev", "eth1")
    await built.run("host", "ip", "addr", "add", "10.231.2.9/24", "dev", "eth1")
    await built.run(
        "host", "ip", "route", "add", "default", "via", "10.231.2.1", "dev", "eth1", "metric", "200"
    )
    proc = await start(built, config)
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


def index54() -> Topology:
    t = Topology().add_netns("host").add_netns("peer")
    t.add_veth("eth1", "host", "eth0", "peer", index=54, peer_index=55)
    t.add_address("host", "eth1", "10.231.5.2/24")
    t.add_address("peer", "eth0", "10.231.5.1/24")
    t.add_route("host", "default", via="10.231.5.1")
    return t


async def test_a_table_that_would_be_main_is_moved_and_kept(lab, tmp_path):
    built = await lab(index54())
    main_before = await built.ip_json("host", "route", "show", "table", "main")
    _, config = config_for(tmp_path, to_rules=False)
    proc = await start(built, config)
    await converged(built, {("10.231.5.2", None, "256", 30000)})
    await proc.wait_for_log(r"routing\.table link=eth1 table=256")
    assert await built.ip_json("host", "route", "show", "table", "main") == main_before
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait_exit(15) == 0
    # A foreign route now sits in 256; without memory netevd would pick 257 on restart.
    await built.run(
        "host", "ip", "route", "add", "10.99.0.0/16", "via", "10.231.5.1", "table", "256"
    )
    proc = await start(built, config)
    await proc.wait_for_log(r"routing\.tables eth1=256")
    await converged(built, {("10.231.5.2", None, "256", 30000)})
    assert await built.ip_json("host", "route", "show", "table", "main") == main_before


async def test_cleanup_on_exit_removes_everything_netevd_installed(lab, tmp_path):
    built = await lab(multihomed())
    _, config = config_for(tmp_path, cleanup_on_exit=True)
    proc = await start(built, config)
    await converged(
        built, {(HOST_ETH1_V4, None, str(TABLE), 30000), (None, HOST_ETH1_V4, str(TABLE), 30001)}
    )
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait_exit(15) == 0
    assert await ours(built) == []
    assert await ours(built, "-6") == []
    assert await table(built) == []
