"""Chaos: SIGKILL of netevd in the middle of applying policy routing for 50 addresses, then a
new start: its rules and routes are reconciled to exactly the plan (no duplicate, no orphan)."""

import signal

from chaos_support import health

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs

PROTO = "78"
TABLE = "212"  # table_base 200 + eth1's ifindex 12
ADDRESSES = [f"10.231.89.{i}" for i in range(10, 60)]
TOPOLOGY = host_peer(
    ["10.231.90.1/24"],
    ["10.231.90.2/24"],
    eth1=True,
    host_eth1=[f"{a}/24" for a in ADDRESSES],
    peer_eth1=["10.231.89.1/24"],
)
PLAN_RULES = sorted(
    [(a, None, TABLE, 30000) for a in ADDRESSES] + [(None, a, TABLE, 30001) for a in ADDRESSES],
    key=str,
)
PLAN_ROUTES = [("10.231.89.0/24", None, "eth1", TABLE)]


async def owned(built) -> tuple[list, list]:
    """netevd's IPv4 rules and routes as ``ip -j`` shows them, duplicates kept."""

    def side(value):
        return None if value in (None, "all") else value

    rules = [
        (side(r.get("src")), side(r.get("dst")), str(r["table"]), r["priority"])
        for r in await built.ip_json("host", "-4", "rule", "show")
        if str(r.get("protocol")) == PROTO
    ]
    routes = [
        (r["dst"], r.get("gateway"), r["dev"], str(r.get("table")))
        for r in await built.ip_json("host", "-4", "route", "show", "table", "all")
        if str(r.get("protocol")) == PROTO
    ]
    return sorted(rules, key=str), sorted(routes, key=str)


async def test_sigkill_mid_apply_then_start_reconciles_exactly(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    sections = {
        "routing": {"policy_rules": ["eth1"]},
        "system": {"state_dir": str(tmp_path / "state")},
    }
    proc = (await netevd(built, scripts, **sections)).proc
    await proc.wait_for_log(r"routing\.rule\.add ")  # routes are in, rules going in
    proc.send_signal(signal.SIGKILL)
    await proc.wait_exit(10)
    rules, _ = await owned(built)
    print(f"killed with {len(rules)} of {len(PLAN_RULES)} rules in place")
    daemon = await netevd(built, scripts, api=True, **sections)

    async def exactly_the_plan() -> bool:
        return await owned(built) == (PLAN_RULES, PLAN_ROUTES)

    await wait_until(exactly_the_plan, timeout=30, message="netevd's rules and routes = plan")
    await daemon.proc.wait_for_log(r"routing\.applied ")
    assert (await health(daemon.http))[0] == 200
    assert "Traceback" not in daemon.proc.output()
