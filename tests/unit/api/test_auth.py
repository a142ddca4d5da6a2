"""POST /api/v1/reload: the result it reports, and who may call it."""

import socket

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from netevd.api.app import ApiServer, build_app, read_static, read_token_file
from netevd.api.handlers import ApiSettings
from netevd.api.view import ReloadResult
from netevd.core.config import ApiConfig
from netevd.errors import RuntimeFailure

TOKEN = "s3cret-token-0123456789"


async def test_reload_on_loopback_needs_no_token(make_api):
    api = await make_api()
    status, body = await api.post("/api/v1/reload")
    assert status == 200
    assert body["data"] == {
        "reloaded": True,
        "source": "/etc/netevd/netevd.yaml",
        "errors": [],
        "warnings": [],
    }
    assert len(api.reloads) == 1


async def test_a_rejected_configuration_is_reported(make_api):
    bad = ReloadResult(False, "/etc/netevd/netevd.yaml", ("api.port: 0 is not a port number",))
    api = await make_api(reload=bad)
    status, body = await api.post("/api/v1/reload")
    assert status == 422
    assert body["success"] is False
    assert body["error"] == (
        "the new configuration was rejected; the running one is kept: "
        "api.port: 0 is not a port number"
    )
    assert body["data"]["errors"] == ["api.port: 0 is not a port number"]


CLI = {"X-Netevd-Request": "1"}  # what netevd's own client sends with a change


async def _client(api, settings: ApiSettings) -> TestClient:
    """The app as if bound to settings.bind_address, served on loopback for the test."""
    app = build_app(api.server._view, settings, read_static())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_beyond_loopback_without_a_token_refuses_changes(make_api):
    api = await make_api()
    client = await _client(api, ApiSettings("0.0.0.0", 9090))
    try:
        response = await client.post("/api/v1/reload", headers=CLI)
        body = await response.json()
        assert response.status == 403
        assert body["error"] == (
            "mutating endpoints are disabled: the API listens on 0.0.0.0, beyond loopback, "
            "and no token is configured; set api.token or api.token_file"
        )
        response = await client.get("/api/v1/status")  # reading stays open
        assert response.status == 200
    finally:
        await client.close()
    assert api.reloads == []


async def test_the_token_is_checked(make_api):
    api = await make_api()
    client = await _client(api, ApiSettings("192.0.2.1", 9090, token=TOKEN))
    try:
        response = await client.post("/api/v1/reload", headers=CLI)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="netevd"'
        assert (await response.json())["error"] == (
            "this endpoint needs the API token: send the header 'Authorization: Bearer <api.token>'"
        )
        wrong = {"Authorization": "Bearer nope", **CLI}
        assert (await client.post("/api/v1/reload", headers=wrong)).status == 401
        right = {"Authorization": f"Bearer {TOKEN}", **CLI}
        assert (await client.post("/api/v1/reload", headers=right)).status == 200
    finally:
        await client.close()
    assert len(api.reloads) == 1


async def test_a_configured_token_is_required_on_loopback_too(make_api):
    api = await make_api(api=ApiConfig(token=TOKEN))
    status, _ = await api.post("/api/v1/reload")
    assert status == 401
    status, _ = await api.post("/api/v1/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200


async def test_the_unix_socket_needs_no_token(make_api, tmp_path):
    path = tmp_path / "api.sock"
    api = await make_api(api=ApiConfig(token=TOKEN, socket=str(path)))
    assert path.stat().st_mode & 0o777 == 0o660
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(path))) as session:
        async with session.post("http://localhost/api/v1/reload") as response:
            assert response.status == 200
        async with session.get("http://localhost/api/v1/status") as response:
            assert (await response.json())["success"] is True
    status, _ = await api.post("/api/v1/reload")
    assert status == 401
    await api.server.stop()
    assert not path.exists()


async def test_a_stale_socket_is_replaced(make_api, tmp_path):
    path = tmp_path / "api.sock"
    with socket.socket(socket.AF_UNIX) as stale:  # as if a process died: the file stays behind
        stale.bind(str(path))
    api = await make_api(api=ApiConfig(socket=str(path)))
    assert f"unix:{path}" in api.server.addresses


async def test_a_file_that_is_not_a_socket_is_left_alone(make_api, tmp_path):
    path = tmp_path / "precious"
    path.write_text("keep me")
    with pytest.raises(RuntimeFailure) as info:
        await make_api(api=ApiConfig(socket=str(path)))
    assert str(info.value) == f"api.socket {path} exists and is not a socket; not replacing it"
    assert path.read_text() == "keep me"


async def test_a_taken_port_is_a_clear_failure(make_api):
    api = await make_api()
    other = ApiServer(api.server._view, ApiConfig(), port=api.server.port)
    with pytest.raises(RuntimeFailure) as info:
        await other.start()
    assert str(info.value) == (
        f"the API cannot listen on 127.0.0.1 port {api.server.port}: Address already in use"
        " (set api.bind_address / api.port, or api.enabled: false)"
    )


async def test_token_file(tmp_path, make_api):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    assert read_token_file(str(path)) == (TOKEN, "")
    api = await make_api(api=ApiConfig(token_file=str(path)))
    status, _ = await api.post("/api/v1/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200


async def test_an_unreadable_token_file_disables_changes(tmp_path, make_api):
    missing = tmp_path / "missing"
    api = await make_api(api=ApiConfig(token_file=str(missing)))
    status, body = await api.post("/api/v1/reload")
    assert status == 403
    assert body["error"] == (
        f"mutating endpoints are disabled: api.token_file {missing} cannot be read "
        "(No such file or directory)"
    )
