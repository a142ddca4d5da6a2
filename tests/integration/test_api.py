"""The real daemon's API in a lab namespace, checked against what ``ip -j`` says."""

import asyncio
import json
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab import Topology, host_peer
from lab.compare import FAMILIES, kernel_routes, prefix, table_number
from lab.http import API_PORT, sse_messages
from lab.netevd import NetevdProcess, ScriptDirs

COMMON_FLAGS = {"UP", "LOWER_UP", "BROADCAST", "MULTICAST", "LOOPBACK", "POINTOPOINT", "NOARP"}


def topology() -> Topology:
    t = host_peer(["10.231.9.1/24", "2001:db8:9::1/64"], ["10.231.9.2/24"], gateway="10.231.9.2")
    return t.add_route("host", "10.98.0.0/16", via="10.231.9.2", table=201)


@pytest.fixture
async def world(lab, netevd, tmp_path):
    built = await lab(topology())
    await built.run(
        "host", "ip", "rule", "add", "from", "10.231.9.1", "lookup", "201", "pref", "1000"
    )
    await built.run("host", "ip", "-6", "rule", "add", "to", "2001:db8:9::/64", "table", "201")
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("routable")
    daemon = await netevd(built, scripts, api=True)
    return built, daemon.proc, daemon.api, scripts


# --- what ip -j says, in the API's terms ------------------------------------------------------


async def ip_links(built) -> dict:
    found = {}
    for link in await built.ip_json("host", "addr"):
        found[link["ifindex"]] = {
            "name": link["ifname"],
            "mtu": link["mtu"],
            "mac": link.get("address"),
            "operstate": link["operstate"],
            "flags": set(link["flags"]) & COMMON_FLAGS,
            "addresses": {
                (a["family"], a["local"], a["prefixlen"], a["scope"]) for a in link["addr_info"]
            },
        }
    return found


def api_links(links: list) -> dict:
    return {
        link["ifindex"]: {
            "name": link["name"],
            "mtu": link["mtu"],
            "mac": link["mac"],
            "operstate": link["operstate"],
            "flags": set(link["flags"]) & COMMON_FLAGS,
            "addresses": {
                (a["family"], a["address"], a["prefixlen"], a["scope"]) for a in link["addresses"]
            },
        }
        for link in links
    }


async def ip_routes(built) -> set:
    return {
        (
            family,
            table_number(r.get("table", "main")),
            prefix(r["dst"], family),
            r.get("gateway"),
            r.get("dev"),
            r.get("type", "unicast"),
        )
        for family, r in await kernel_routes(built.ns("host"))
    }


def api_routes(routes: list) -> set:
    return {
        (r["family"], r["table"], r["dst"], r["gateway"], r["interface"], r["type"]) for r in routes
    }


async def ip_rules(built) -> set:
    found = set()
    for option, family in FAMILIES:
        for r in await built.ip_json("host", option, "rule"):
            src = None if r["src"] == "all" else prefix(r["src"], family, r.get("srclen"))
            dst = prefix(r["dst"], family, r.get("dstlen")) if "dst" in r else None
            table = table_number(r["table"])
            found.add((family, r["priority"], src, dst, table))
    return found


def api_rules(rules: list) -> set:
    return {(r["family"], r["priority"], r["from"], r["to"], r["table"]) for r in rules}


# --- tests --------------------------------------------------------------------------------------


async def test_documents_match_ip(world, wait_until):
    built, _proc, api, _ = world
    await built.run("host", "ip", "addr", "add", "10.231.10.1/24", "dev", "eth0")
    await built.run(
        "host", "ip", "route", "add", "10.99.0.0/16", "via", "10.231.9.2", "table", "202"
    )
    await built.run("host", "ip", "link", "set", "eth0", "mtu", "1400")

    async def converged() -> list | None:
        # One comparison, retried whole: the kernel adds the links' IPv6 link-local addresses and
        # routes on its own time, so a second look after a match could race them.
        links = await api.data("/api/v1/interfaces")
        routes = api_routes(await api.data("/api/v1/routes"))
        rules = api_rules(await api.data("/api/v1/rules"))
        same = (
            api_links(links) == await ip_links(built)
            and routes == await ip_routes(built)
            and rules == await ip_rules(built)
        )
        return links if same else None

    links = await wait_until(converged, 10, interval=0.1, message="the API shows what ip -j shows")
    assert (10, "eth0", 1400) in {(k["ifindex"], k["name"], k["mtu"]) for k in links}

    eth0 = await api.data("/api/v1/interfaces/eth0")
    assert eth0["gateway"] == "10.231.9.2"
    assert eth0["kernel_state"] == "routable"
    assert eth0["carrier"] is True
    assert 1 <= len(eth0["events"]) <= 5  # its latest few, oldest first
    assert [e["seq"] for e in eth0["events"]] == sorted(e["seq"] for e in eth0["events"])
    mtu = [e["detail"]["mtu"] for e in eth0["events"] if e["type"] == "link"]
    assert mtu[-1:] == [1400]
    added = await api.data("/api/v1/events", params={"interface": "eth0", "type": "address-added"})
    assert {"address": "10.231.10.1/24"} in [e["detail"] for e in added]

    table = await api.data("/api/v1/routes", params={"table": "202", "family": "inet"})
    assert [(r["dst"], r["gateway"], r["interface"]) for r in table] == [
        ("10.99.0.0/16", "10.231.9.2", "eth0")
    ]
    ip_table = await built.ip_json("host", "route", "show", "table", "202")
    assert [(r["dst"], r["gateway"], r["dev"]) for r in ip_table] == [
        ("10.99.0.0/16", "10.231.9.2", "eth0")
    ]
    status = await api.data("/api/v1/status")
    assert status["ready"] is True
    assert status["counts"]["interfaces"] == len(await built.ip_json("host", "link"))
    assert status["counts"]["rules"] == len(await ip_rules(built))


async def test_events_and_their_scripts(world, wait_until):
    built, _proc, api, scripts = world
    await built.run("host", "ip", "addr", "del", "10.231.9.1/24", "dev", "eth0")
    await built.run("host", "ip", "addr", "del", "2001:db8:9::1/64", "dev", "eth0")
    await built.run("host", "ip", "addr", "add", "10.231.11.1/24", "dev", "eth0")
    (run,) = await scripts.wait_for(STATE="routable", NETEVD_REPLAY="0")
    seq = int(run.env["NETEVD_SEQ"])

    async def with_script():
        events = await api.data("/api/v1/events", params={"since": str(seq - 1), "limit": "1"})
        return events and events[0]["scripts"] and events[0]

    event = await wait_until(with_script, 10, message="the event with its script outcome")
    assert event["seq"] == seq
    assert event["link_name"] == "eth0"
    # the address-added.d hook fired too (its run waits for its quiet window; no script here)
    assert event["directories"] == ["address-added", "routable"]
    (script,) = event["scripts"]
    assert script["directory"] == "routable"
    assert script["exit_code"] == 0
    assert script["script"].endswith("routable.d/50-record")
    removed = await api.data(
        "/api/v1/events", params={"type": "address-removed", "interface": "eth0"}
    )
    assert {e["detail"]["address"] for e in removed} == {"10.231.9.1/24", "2001:db8:9::1/64"}


async def test_stream_delivers_changes_and_resumes(world):
    built, _proc, api, _ = world
    url = "/api/v1/events/stream?interface=eth0"

    def address(text):
        return lambda kind, data: kind == "event" and data["detail"].get("address") == text

    async with api.stream(url) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        await built.run("host", "ip", "addr", "add", "10.231.12.1/24", "dev", "eth0")
        ((kind, ident, event),) = await asyncio.wait_for(
            sse_messages(response, 1, address("10.231.12.1/24")), 10
        )
    assert kind == "event"
    assert ident == event["seq"]
    assert event["type"] == "address-added"
    # Missed while disconnected: replayed on reconnect with Last-Event-ID.
    await built.run("host", "ip", "addr", "add", "10.231.13.1/24", "dev", "eth0")
    headers = {"Last-Event-ID": str(ident)}
    async with api.stream(url, headers=headers) as response:
        ((_, replayed, again),) = await asyncio.wait_for(
            sse_messages(response, 1, address("10.231.13.1/24")), 10
        )
    assert replayed > ident
    assert again["type"] == "address-added"


async def test_errors_are_json(world):
    _built, _proc, api, _ = world
    status, body = await api.get("/api/v1/routes", params={"table": "main"})
    assert status == 400
    assert body["error"] == "query parameter table='main' must be an integer from 0 to 4294967295"
    status, body = await api.get("/api/v1/interfaces/%3Cscript%3E")
    assert (status, body["error"]) == (404, "no interface named '<script>'")
    status, body = await api.get("/no/such/thing")
    assert (status, body["success"]) == (404, False)


async def test_metrics_move_with_real_events(world, wait_until):
    built, _proc, api, _ = world

    def value(text, name, **labels):
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return 0.0

    before = await api.text("/metrics")
    await built.run("host", "ip", "addr", "add", "10.231.14.1/24", "dev", "eth0")
    await built.run("peer", "ip", "link", "set", "eth0", "down")

    async def moved():
        after = await api.text("/metrics")
        return (
            value(after, "netevd_events_total", type="AddressAdded")
            > value(before, "netevd_events_total", type="AddressAdded")
            and value(after, "netevd_interface_state", interface="eth0", state="no-carrier") == 1
            # the routable script's run is reported after it ends, a moment after the event
            and value(after, "netevd_script_executions_total", state="routable") >= 1
            and after
        )

    after = await wait_until(moved, 10, message="metrics follow the changes")
    assert value(after, "netevd_netlink_messages_total", type="RTM_NEWADDR") > value(
        before, "netevd_netlink_messages_total", type="RTM_NEWADDR"
    )
    assert value(after, "netevd_interfaces_total") == len(await built.ip_json("host", "link"))
    assert value(after, "netevd_source_up", source="netlink") == 1
    assert value(after, "netevd_script_executions_total", state="routable") >= 1
    assert value(after, "netevd_event_to_script_seconds_count", state="routable") >= 1


async def test_reload_and_health(world, tmp_path):
    _built, proc, api, _ = world
    status, body = await api.get("/health")
    assert status == 200
    assert body["data"]["checks"] == {"initial_dump": "ok", "source:netlink": "ok"}
    status, body = await api.post("/api/v1/reload")
    assert status == 200
    assert body["data"]["reloaded"] is True
    await proc.wait_for_log(r"config\.reloaded")
    config = tmp_path / "netevd.yaml"
    config.write_text("scripts: {timeout: -1}\n")
    status, body = await api.post("/api/v1/reload")
    assert status == 422
    assert "scripts.timeout: -1 must be a number greater than 0" in body["error"]
    assert (await api.get("/api/v1/status"))[0] == 200  # still running, old config kept


async def test_cli_against_the_daemon_and_against_none(world):
    built, _proc, _api, _ = world

    async def netevd(ns, *args):
        result = await built.run(ns, sys.executable, "-m", "netevd", *args, check=False)
        return result.returncode, result.stdout, result.stderr

    code, out, err = await netevd("host", "status")
    assert code == 0, err
    assert "state:       ready" in out
    code, out, _ = await netevd("host", "list", "interfaces", "--format", "json")
    assert code == 0
    assert {link["name"] for link in json.loads(out)} == {"lo", "eth0"}
    code, out, _ = await netevd("host", "show", "interface", "eth0")
    assert code == 0
    assert "10.231.9.1/24 (global)" in out
    code, out, _ = await netevd("host", "list", "rules")
    assert "1000" in out
    code, out, _ = await netevd("host", "events", "-n", "3", "--type", "replay")
    assert code == 0
    assert " replay " in out
    code, out, _ = await netevd("host", "reload")
    assert (code, out) == (0, f"configuration reloaded from {_proc.argv[-1]}\n")
    code, out, err = await netevd("peer", "status")  # nothing listens in the peer namespace
    assert code == 1
    assert out == ""
    assert err.startswith(f"netevd: cannot reach netevd at http://127.0.0.1:{API_PORT}: ")
    assert "Traceback" not in err


async def test_unix_socket(lab, netevd, tmp_path):
    built = await lab(topology())
    scripts = ScriptDirs(tmp_path / "s")
    sock = tmp_path / "api.sock"
    await netevd(built, scripts, api={"socket": str(sock)})
    # From another namespace: the socket is a file, not a network address.
    result = await built.run(
        "peer", sys.executable, "-m", "netevd", "status", "--endpoint", f"unix:{sock}", check=False
    )
    assert result.returncode == 0, result.stderr
    assert "interfaces:  2" in result.stdout


async def test_a_taken_port_stops_the_daemon_with_a_clear_message(world, tmp_path):
    built, _proc, _api, _scripts = world
    config = tmp_path / "second.yaml"
    config.write_text((tmp_path / "netevd.yaml").read_text())
    second = await built.start_process(NetevdProcess(built.ns("host"), config))
    assert await second.wait_exit(15) == 1
    assert (
        f"netevd: the API cannot listen on 127.0.0.1 port {API_PORT}: Address already in use"
        in second.output()
    )
    assert "Traceback" not in second.output()
