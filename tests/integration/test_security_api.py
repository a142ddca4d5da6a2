"""Issue 10, attack 3: web pages must not reach the API (DNS rebinding, cross-site POST).

On 253553e every GET answered 200 to ``Host: rebind.attacker.example`` (interfaces, MACs,
script output) and a cross-site ``text/plain`` POST /api/v1/reload reloaded the configuration.
"""

from lab import host_peer
from lab.netevd import ScriptDirs

REBOUND = {"Host": "rebind.attacker.example:9090"}
CROSS_SITE_FORM = {
    "Origin": "http://attacker.example",
    "Content-Type": "text/plain",
    "X-Netevd-Request": None,  # a form cannot send it
}


async def test_a_rebound_host_name_reads_nothing(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.47.1/24"], ["10.231.47.2/24"]))
    daemon = await netevd(built, ScriptDirs(tmp_path / "scripts"), api=True)
    api = daemon.http
    for path in ("/api/v1/interfaces", "/api/v1/events", "/health", "/"):
        async with api.session.get(api.base + path, headers=REBOUND) as response:
            assert response.status == 403, path
            body = await response.json()
            assert "DNS rebinding" in body["error"]
            assert "eth0" not in await response.text()
    for host in ("127.0.0.1:9090", "localhost:9090", "[::1]:9090", "127.0.0.1"):
        status, _ = await api.get("/api/v1/interfaces", headers={"Host": host})
        assert status == 200, host


async def test_a_cross_site_post_changes_nothing(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.48.1/24"], ["10.231.48.2/24"]))
    daemon = await netevd(built, ScriptDirs(tmp_path / "scripts"), api=True)
    api = daemon.http
    status, body = await api.post("/api/v1/reload", data="x=1", headers=CROSS_SITE_FORM)
    assert status == 403
    assert "cross-site" in body["error"]
    # Same origin but a simple (form-like) request: still refused, even on loopback.
    plain = {"Content-Type": "text/plain", "X-Netevd-Request": None}
    status, body = await api.post("/api/v1/reload", data="x=1", headers=plain)
    assert status == 403
    assert "application/json" in body["error"]
    assert "config.reloaded" not in daemon.proc.output()
    status, body = await api.post("/api/v1/reload", json={})
    assert status == 200, body
    await daemon.proc.wait_for_log(r"config\.reloaded", 10)


async def test_a_foreign_origin_is_refused_even_for_reads(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.49.1/24"], ["10.231.49.2/24"]))
    daemon = await netevd(built, ScriptDirs(tmp_path / "scripts"), api=True)
    status, _ = await daemon.http.get(
        "/api/v1/status", headers={"Origin": "http://attacker.example"}
    )
    assert status == 403
    status, _ = await daemon.http.get("/api/v1/status", headers={"Origin": "http://127.0.0.1:9090"})
    assert status == 200


async def test_configured_names_are_answered(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.50.1/24"], ["10.231.50.2/24"]))
    daemon = await netevd(
        built, ScriptDirs(tmp_path / "scripts"), api={"allowed_hosts": ["netevd.lan"]}
    )
    status, _ = await daemon.http.get("/api/v1/status", headers={"Host": "netevd.lan:9090"})
    assert status == 200
