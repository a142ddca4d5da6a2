"""Chaos: state_dir on a full file system, then read-only, and state files of other formats.

Routing and scripts go on; the failed writes are logged once per streak and counted; /health
says degraded; once the file system takes writes again the state is written; a restart after
that loses no owned rule or route. A state file of the older, unversioned format is read; one of
an unknown format version is refused with a message that says so.
"""

import json

from chaos_support import fill, health, remount, tmpfs

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs

PROTO = "78"
TOPOLOGY = host_peer(
    ["10.231.80.1/24"],
    ["10.231.80.2/24"],
    eth1=True,
    host_eth1=["10.231.81.1/24"],
    peer_eth1=["10.231.81.2/24"],
)


async def owned(built) -> list[tuple]:
    """netevd's rules and its routes in every table, as ip shows them (duplicates kept)."""
    rules = [
        (r.get("src"), r.get("dst"), r["table"], r["priority"])
        for r in await built.ip_json("host", "-4", "rule", "show")
        if str(r.get("protocol")) == PROTO
    ]
    routes = [
        (r["dst"], r.get("gateway"), r["dev"], r.get("table"))
        for r in await built.ip_json("host", "-4", "route", "show", "table", "all")
        if str(r.get("protocol")) == PROTO
    ]
    return sorted(rules) + sorted(routes)


def failures(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("netevd_state_write_failures_total "):
            return float(line.split()[1])
    raise AssertionError("netevd_state_write_failures_total not exported")


async def test_a_full_then_read_only_state_dir_degrades_and_recovers(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("no-carrier")
    state = tmp_path / "state"
    with tmpfs(state, "1m"):
        filler = fill(state)
        sections = {"routing": {"policy_rules": ["eth*"]}, "system": {"state_dir": str(state)}}
        daemon = await netevd(built, scripts, api=True, **sections)
        proc, api = daemon.proc, daemon.http
        await proc.wait_for_log(r"state\.write\.failed .*No space left on device")
        # routing and scripts go on
        await wait_until(lambda: owned_count(built, 4), timeout=15, message="eth0, eth1 rules")
        await built.run("peer", "ip", "link", "set", "eth1", "down")
        await scripts.wait_for(STATE="no-carrier", LINK="eth1")
        code, data = await health(api)
        assert (code, data["status"], data["degraded"]) == (200, "degraded", ["state_dir"])
        assert "No space left on device" in data["checks"]["state_dir"]
        assert failures(await api.text("/metrics")) >= 1
        # space returns: the retry writes the file
        filler.unlink()
        await wait_until(lambda: (state / "tables.json").exists(), timeout=60)
        await wait_until(lambda: healthy(api), timeout=10, message="/health healthy again")
        assert json.loads((state / "tables.json").read_text()) == {
            "version": 1,
            "tables": {"eth0": 210, "eth1": 212},
        }
        # read-only: a new link's table cannot be written; a new streak, logged once again
        remount(state, "ro")
        await built.run(
            "host",
            "ip",
            "link",
            "add",
            "eth2",
            "index",
            "14",
            "type",
            "veth",
            "peer",
            "name",
            "eth2",
            "netns",
            built.ns("peer"),
            "index",
            "15",
        )
        await built.run("host", "ip", "addr", "add", "10.231.82.1/24", "dev", "eth2")
        await built.run("host", "ip", "link", "set", "eth2", "up")
        await proc.wait_for_count(r"state\.write\.failed .*Read-only file system", 1)
        await wait_until(lambda: owned_count(built, 6), timeout=15, message="eth2's rules too")
        code, data = await health(api)
        assert data["status"] == "degraded"
        remount(state, "rw")
        await wait_until(lambda: "eth2" in tables_of(state), timeout=60)
        assert len(proc.output().split("state.write.failed")) - 1 == 2  # once per streak
        before = await owned(built)
        # a restart loses no owned rule or route
        await proc.stop()
        daemon = await netevd(built, scripts, api=True, **sections)
        await daemon.proc.wait_for_log(r"routing\.tables .*eth0=210")
        await wait_until(lambda: same_owned(built, before), timeout=15, message="same as before")
        assert len(before) == len(set(before))
        assert (await health(daemon.http))[1]["status"] == "healthy"
        assert "Traceback" not in proc.output() + daemon.proc.output()
        await daemon.proc.stop()


async def owned_count(built, rules: int) -> bool:
    return sum(1 for entry in await owned(built) if isinstance(entry[3], int)) == rules


async def same_owned(built, before) -> bool:
    return await owned(built) == before


async def healthy(api) -> bool:
    return (await health(api))[1]["status"] == "healthy"


def tables_of(state) -> dict:
    try:
        return json.loads((state / "tables.json").read_text())["tables"]
    except (FileNotFoundError, ValueError):
        return {}


async def test_state_files_of_other_formats_are_read_or_refused_clearly(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    state = tmp_path / "state"
    state.mkdir()
    sections = {"routing": {"policy_rules": ["eth1"]}, "system": {"state_dir": str(state)}}
    # the first, unversioned layout (a plain mapping), written by hand: read, then rewritten
    (state / "tables.json").write_text('{"eth1": 300}\n')
    daemon = await netevd(built, scripts, **sections)
    await daemon.proc.wait_for_log(r"format 0 \(no version\) read")
    await wait_until(lambda: rule_tables(built, {"300"}), timeout=15, message="table 300 kept")
    await daemon.proc.stop()
    # a newer netevd's format: refused by name, netevd starts without it
    (state / "tables.json").write_text(json.dumps({"version": 7, "tables": {"eth1": 300}}))
    daemon = await netevd(built, scripts, **sections)
    await daemon.proc.wait_for_log(r"format version 7 is not one this netevd reads \(1\); refused")
    assert "Traceback" not in daemon.proc.output()


async def rule_tables(built, want: set[str]) -> bool:
    rules = await built.ip_json("host", "-4", "rule", "show")
    return {str(r["table"]) for r in rules if str(r.get("protocol")) == PROTO} == want
