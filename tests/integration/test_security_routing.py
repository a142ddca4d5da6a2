"""Issue 10, attack 4: a remembered table that now holds someone else's routes.

On 253553e, tables.json said table 300 for eth1; table 300 held a foreign default route via
eth0; netevd logged its own default route as added (EEXIST read as success), eth1's replies
left by eth0, and every event logged another futile re-add.
"""

import json

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs

PROTO = 78
REMEMBERED = 300


async def test_a_remembered_table_holding_foreign_routes_is_given_up(lab, netevd, tmp_path):
    built = await lab(
        host_peer(
            ["10.231.51.1/24"],
            ["10.231.51.2/24"],
            eth1=True,
            host_eth1=["10.231.52.1/24"],
            peer_eth1=["10.231.52.2/24"],
        )
    )
    # The default route of eth1's table, as netevd plans it, needs eth1's gateway.
    await built.run("host", "ip", "route", "add", "default", "via", "10.231.52.2", "metric", "500")
    await built.run(
        "host",
        "ip",
        "route",
        "add",
        "default",
        "via",
        "10.231.51.2",
        "table",
        str(REMEMBERED),
        "proto",
        "static",
    )
    state = tmp_path / "state"
    state.mkdir()
    (state / "tables.json").write_text(json.dumps({"version": 1, "tables": {"eth1": REMEMBERED}}))
    daemon = await netevd(
        built,
        ScriptDirs(tmp_path / "scripts"),
        api=True,
        routing={"policy_rules": ["eth1"]},
        system={"state_dir": str(state)},
    )

    async def moved() -> int | None:
        tables = json.loads((state / "tables.json").read_text())["tables"]
        return tables["eth1"] if tables.get("eth1") not in (None, REMEMBERED) else None

    table = await wait_until(moved, 15, message="eth1's table moved off the foreign one")
    await daemon.proc.wait_for_log(
        rf"routing\.table\.given_up link=eth1 table={REMEMBERED} new_table={table}\b", 10
    )

    async def ours_in(number: int) -> list:
        # "table all": a table netevd has not filled yet does not exist, and naming it fails.
        routes = await built.ip_json("host", "route", "show", "table", "all")
        return [
            r
            for r in routes
            if r.get("protocol") in (PROTO, str(PROTO)) and r.get("table") == str(number)
        ]

    await wait_until(lambda: ours_in(table), 15, message=f"netevd's routes in table {table}")
    foreign = await built.ip_json("host", "route", "show", "table", str(REMEMBERED))
    assert [(r["dst"], r.get("gateway"), r.get("protocol")) for r in foreign] == [
        ("default", "10.231.51.2", "static")
    ]
    rules = await built.ip_json("host", "rule", "show")
    assert {r["table"] for r in rules if r.get("src") == "10.231.52.1"} == {str(table)}
    status, body = await daemon.http.get("/health")
    assert status == 200
    assert body["data"]["checks"]["routing"] == "ok"
    assert "table 300" not in "\n".join(
        t for _, t in daemon.proc.lines if t.split(" level=")[-1].startswith("INFO routing.route")
    )
