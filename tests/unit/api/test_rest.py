"""The REST endpoints on port 0, in front of a real Engine: documents, filters and errors."""

import os

from api_world import HOSTILE

from netevd.core.events import AddressAdded, LinkChanged, SourceStatus
from netevd.core.model import AF_INET, Addr, Link


async def test_envelope_and_status(make_api):
    api = await make_api()
    status, body = await api.get("/api/v1/status")
    assert status == 200
    assert set(body) == {"success", "data", "error", "timestamp"}
    assert body["success"] is True
    assert body["error"] is None
    assert body["timestamp"].endswith("Z")
    data = body["data"]
    assert data["ready"] is True
    assert data["backend"] == "none"
    assert data["sources"] == {"netlink": True}
    assert data["counts"] == {
        "interfaces": 3,
        "addresses": 4,
        "routes": 6,
        "rules": 4,
        "events": 2,
        "events_buffered": 2,
        "scripts_run": 0,
        "scripts_failed": 0,
    }
    assert data["last_event"]["seq"] == 2
    assert data["last_event"]["type"] == "source"


async def test_interfaces(make_api):
    api = await make_api()
    status, body = await api.get("/api/v1/interfaces")
    assert status == 200
    by_name = {link["name"]: link for link in body["data"]}
    assert list(by_name) == ["lo", "eth0", HOSTILE]  # by ifindex
    eth0 = by_name["eth0"]
    assert eth0["ifindex"] == 3
    assert eth0["mac"] == "02:00:00:00:00:03"
    assert eth0["flags"] == ["UP", "BROADCAST", "MULTICAST", "LOWER_UP"]
    assert eth0["carrier"] is True
    assert eth0["kernel_state"] == "routable"
    assert eth0["gateway"] == "10.0.0.254"
    assert eth0["gateway6"] == "2001:db8::fe"
    assert eth0["table"] is None
    assert eth0["backends"] == {}
    assert eth0["monitored"] is True
    assert by_name["lo"]["monitored"] is False  # excluded by default
    assert [(a["address"], a["family"], a["scope"]) for a in eth0["addresses"]] == [
        ("10.0.0.1", "inet", "global"),
        ("2001:db8::1", "inet6", "global"),
        ("fe80::1", "inet6", "link"),
    ]
    assert by_name[HOSTILE]["kernel_state"] == "no-carrier"


async def test_interface_with_its_events(make_api):
    api = await make_api()
    api.engine.handle(AddressAdded(Addr(3, AF_INET, "10.0.0.9", 24)))
    api.engine.handle(LinkChanged(Link(3, "eth0", 0x1 | 0x10000, 9000, "02:00:00:00:00:03", "UP")))
    status, body = await api.get("/api/v1/interfaces/eth0")
    assert status == 200
    link = body["data"]
    assert link["mtu"] == 9000
    assert [e["type"] for e in link["events"]] == ["address-added", "link"]
    assert link["events"][0]["detail"] == {"address": "10.0.0.9/24"}


async def test_unknown_interface_is_404_with_a_message(make_api):
    api = await make_api()
    status, body = await api.get("/api/v1/interfaces/nope%3Cscript%3E")
    assert status == 404
    assert body["success"] is False
    assert body["data"] is None
    assert body["error"] == "no interface named 'nope<script>'"


async def test_hostile_name_round_trips(make_api):
    api = await make_api()
    status, body = await api.get("/api/v1/interfaces/x%3Cb%3Ey'%22&")
    assert status == 200
    assert body["data"]["name"] == HOSTILE


async def test_routes_and_filters(make_api):
    api = await make_api()
    _, body = await api.get("/api/v1/routes")
    assert len(body["data"]) == 6
    assert body["data"][0]["table"] == 203  # ordered by table
    _, body = await api.get("/api/v1/routes", params={"table": "203"})
    (route,) = body["data"]
    assert route["gateway"] == "10.0.0.254"
    assert route["protocol_name"] == "netevd"
    assert route["interface"] == "eth0"
    _, body = await api.get("/api/v1/routes", params={"family": "inet6"})
    assert {r["dst"] for r in body["data"]} == {"2001:db8::/64", "::/0"}
    _, body = await api.get("/api/v1/routes", params={"interface": "eth0", "table": "255"})
    assert [r["type"] for r in body["data"]] == ["local"]
    _, body = await api.get("/api/v1/routes", params={"interface": "nope"})
    assert body["data"] == []


async def test_rules(make_api):
    api = await make_api()
    _, body = await api.get("/api/v1/rules", params={"family": "4"})
    assert [(r["priority"], r["from"], r["table"]) for r in body["data"]] == [
        (0, None, 255),
        (1000, "10.0.0.1/32", 203),
        (32766, None, 254),
    ]
    _, body = await api.get("/api/v1/rules", params={"table": "254"})
    assert {r["family"] for r in body["data"]} == {"inet", "inet6"}


async def test_events_filters(make_api):
    api = await make_api()
    for n in range(5):
        api.engine.handle(AddressAdded(Addr(3, AF_INET, f"10.0.0.{10 + n}", 24)))
    api.finished(3)
    _, body = await api.get("/api/v1/events", params={"limit": "2"})
    assert [e["seq"] for e in body["data"]] == [6, 7]
    _, body = await api.get("/api/v1/events", params={"since": "5", "type": "address-added"})
    assert [e["seq"] for e in body["data"]] == [6, 7]
    # Paging forward from a seq: the oldest after it, so nothing is skipped.
    _, body = await api.get("/api/v1/events", params={"since": "2", "limit": "2"})
    assert [e["seq"] for e in body["data"]] == [3, 4]
    _, body = await api.get("/api/v1/events", params={"interface": "eth0", "limit": "10"})
    assert [e["seq"] for e in body["data"]] == [3, 4, 5, 6, 7]
    (script,) = body["data"][0]["scripts"]
    assert script["exit_code"] == 0
    assert script["output"] == "hi\n"
    assert body["data"][0]["time"].endswith("Z")


async def test_bad_queries_are_400_with_the_message(make_api):
    api = await make_api()
    for path, message in [
        ("/api/v1/events?limit=x", "query parameter limit='x' must be an integer from 1 to 1000"),
        ("/api/v1/routes?family=7", "query parameter family='7' must be one of 4, 6, inet, inet6"),
        ("/api/v1/rules?table=-1", "query parameter table='-1' must be an integer from 0 to "),
        ("/api/v1/events/stream?since=-3", "query parameter since='-3' must be an integer"),
    ]:
        status, body = await api.get(path)
        assert status == 400, path
        assert body["success"] is False
        assert body["error"].startswith(message)


async def test_scripts_with_verdicts(make_api):
    api = await make_api()
    directory = api.scripts / "routable.d"
    directory.mkdir()
    good = directory / "10-good"
    good.write_text("#!/bin/sh\n")
    good.chmod(0o755)
    bad = directory / "20-writable"
    bad.write_text("#!/bin/sh\n")
    bad.chmod(0o775)
    (directory / "30-old~").write_text("")
    status, body = await api.get("/api/v1/scripts")
    assert status == 200
    assert body["data"]["script_dirs"] == [str(api.scripts)]
    (routable,) = body["data"]["directories"]
    assert routable["directory"] == "routable"
    verdicts = {s["name"]: (s["verdict"], s["reason"]) for s in routable["scripts"]}
    assert verdicts == {
        "10-good": ("runs", None),
        "20-writable": ("skipped", "group-writable"),
        "30-old~": ("skipped", "editor or package leftover"),
    }
    assert os.path.basename(routable["scripts"][0]["path"]) == "10-good"


async def test_health(make_api):
    api = await make_api(ready=False)
    status, body = await api.get("/health")
    assert status == 503
    assert body["error"] == "unhealthy: initial_dump not done yet"
    assert body["data"]["failing"] == ["initial_dump"]
    api.engine.handle(SourceStatus("netlink", True))
    status, body = await api.get("/health")
    assert status == 200
    assert body["data"] == {
        "status": "healthy",
        "checks": {"initial_dump": "ok", "source:netlink": "ok"},
        "failing": [],
        "degraded": [],
    }
    api.problems["state_dir"] = "cannot write /var/lib/netevd/tables.json: No space left"
    status, body = await api.get("/health")
    assert status == 200  # the work goes on: degraded is no reason to restart the daemon
    assert body["data"]["status"] == "degraded"
    assert body["data"]["degraded"] == ["state_dir"]
    assert body["data"]["checks"]["state_dir"].endswith("No space left")
    api.problems.clear()
    api.engine.handle(SourceStatus("netlink", False, "socket closed"))
    status, body = await api.get("/health")
    assert status == 503
    assert body["data"]["checks"]["source:netlink"] == "down"


async def test_unknown_path_and_method(make_api):
    api = await make_api()
    status, body = await api.get("/api/v2/nothing")
    assert (status, body["error"]) == (404, "no such endpoint: GET /api/v2/nothing")
    async with api.session.delete(api.base + "/api/v1/status") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET"
        body = await response.json()
    assert body["error"] == "method DELETE is not allowed on /api/v1/status; use GET"


async def test_an_unexpected_error_is_500_without_traceback(make_api, caplog):
    api = await make_api()

    def broken():
        raise RuntimeError("secret internals")

    api.server._view.script_counts = broken  # the handler's view misbehaves
    status, body = await api.get("/api/v1/status")
    assert status == 500
    assert body == {
        "success": False,
        "data": None,
        "error": "internal error; the daemon's log has the details",
        "timestamp": body["timestamp"],
    }
    assert "secret internals" in caplog.text  # logged for the developer, not sent


async def test_dashboard_files_and_headers(make_api):
    api = await make_api()
    async with api.session.get(api.base + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert '<script src="/static/app.js"' in await response.text()
    async with api.session.get(api.base + "/static/app.js") as response:
        assert response.content_type == "text/javascript"
        script = await response.text()
    # Data goes into the page as text only.
    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "document.write" not in script
    async with api.session.get(api.base + "/static/style.css") as response:
        assert response.content_type == "text/css"
    status, _ = await api.get("/static/../app.py")
    assert status == 404
