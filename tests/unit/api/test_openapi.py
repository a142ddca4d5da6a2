"""The OpenAPI document matches the routes, and the answers match the document's schemas."""

import jsonschema_rs
from api_world import HOSTILE

from netevd.api import openapi
from netevd.api.app import build_app, read_static
from netevd.api.handlers import ApiSettings
from netevd.core.events import AddressAdded
from netevd.core.model import AF_INET, Addr


def routes_of_app(view) -> set[tuple[str, str]]:
    app = build_app(view, ApiSettings("127.0.0.1", 9090), read_static())
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        found.add((route.method.lower(), path))
    return found


def documented() -> set[tuple[str, str]]:
    paths = openapi.build()["paths"].items()
    return {(method, path) for path, ops in paths for method in ops if method != "parameters"}


async def test_paths_are_the_routes(make_api):
    api = await make_api()
    assert routes_of_app(api.server._view) == documented()


async def test_served_document(make_api):
    api = await make_api()
    status, body = await api.get("/api/v1/openapi.json")
    assert status == 200
    assert body["openapi"] == "3.1.0"
    assert body == openapi.build()


def validator(path: str, method: str, status: str):
    doc = openapi.build()
    schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"]
    return jsonschema_rs.validator_for({**schema["schema"], "components": doc["components"]})


async def test_answers_match_their_schemas(make_api):
    api = await make_api()
    api.engine.handle(AddressAdded(Addr(3, AF_INET, "10.0.0.99", 24)))
    api.finished(3, code=2)
    (api.scripts / "carrier.d").mkdir()
    (api.scripts / "carrier.d" / "10-x").write_text("")
    cases = [
        ("/api/v1/status", "get", "200"),
        ("/api/v1/interfaces", "get", "200"),
        ("/api/v1/routes", "get", "200"),
        ("/api/v1/rules", "get", "200"),
        ("/api/v1/events", "get", "200"),
        ("/api/v1/history", "get", "200"),
        ("/api/v1/scripts", "get", "200"),
        ("/health", "get", "200"),
    ]
    for path, method, status in cases:
        code, body = await api.get(path)
        assert str(code) == status, path
        validator(path, method, status).validate(body)
    code, body = await api.get("/api/v1/interfaces/eth0")
    validator("/api/v1/interfaces/{name}", "get", "200").validate(body)
    code, body = await api.get("/api/v1/interfaces/" + HOSTILE.replace('"', "%22"))
    validator("/api/v1/interfaces/{name}", "get", "200").validate(body)
    code, body = await api.get("/api/v1/interfaces/none")
    validator("/api/v1/interfaces/{name}", "get", "404").validate(body)
    code, body = await api.get("/api/v1/events?limit=0")
    validator("/api/v1/events", "get", "400").validate(body)
    code, body = await api.post("/api/v1/reload")
    validator("/api/v1/reload", "post", "200").validate(body)


async def test_unhealthy_matches_its_schema(make_api):
    api = await make_api(ready=False)
    code, body = await api.get("/health")
    assert code == 503
    validator("/health", "get", "503").validate(body)


async def test_the_scripts_answer_with_the_dispatchers_trees_matches_its_schema(make_api, tmp_path):
    from dataclasses import replace

    from netevd.core.config import CompatConfig, Config, SystemConfig

    nd, nm = tmp_path / "nd", tmp_path / "nm"
    for directory in (tmp_path / "scripts", nd, nd / "routable.d", nm):
        directory.mkdir(exist_ok=True)
        directory.chmod(0o755)
    for path in (nd / "routable.d" / "50-a", nm / "10-b"):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    compat = replace(
        CompatConfig(),
        networkd_dispatcher=True,
        networkd_dispatcher_dirs=(str(nd),),
        nm_dispatcher=True,
        nm_dispatcher_dirs=(str(nm),),
    )
    config = Config(system=SystemConfig(script_dirs=(str(tmp_path / "scripts"),)), compat=compat)
    api = await make_api(config=config)
    code, body = await api.get("/api/v1/scripts")
    assert code == 200
    validator("/api/v1/scripts", "get", "200").validate(body)
    assert [(d["tree"], d["directory"]) for d in body["data"]["directories"]] == [
        ("networkd-dispatcher", "routable"),
        ("nm-dispatcher", "dispatcher"),
    ]
