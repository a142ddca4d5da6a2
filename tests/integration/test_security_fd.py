"""Issue 10, attack 1: idle API connections must not starve scripts or /health of descriptors.

On 253553e, with the systemd default soft limit (1024), 1,100 idle connections made the next
carrier event's script never run ("cannot read directory: Too many open files"), stopped
/health and flooded the log with accept() tracebacks.
"""

import asyncio
import os
import resource
import socket
from pathlib import Path

from lab import host_peer
from lab.http import API_PORT, socket_in_netns
from lab.netevd import ScriptDirs

ATTACK_CONNECTIONS = 1100


def _raise_own_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _limit_daemon(pid: int, soft: int, hard: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        "prlimit", f"--pid={pid}", f"--nofile={soft}:{hard}"
    )
    assert await proc.wait() == 0


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_idle_connections_leave_scripts_and_health_their_descriptors(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.40.1/24"], ["10.231.40.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("carrier")
    daemon = await netevd(built, scripts, api=True)
    pid = daemon.proc.pid
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert any(
        line.startswith("Max open files") and " 20000 " in line for line in limits.splitlines()
    ), "the daemon raises its soft NOFILE limit at start (to the hard limit, at most 65536)"
    # Now the systemd default: soft and hard 1024, so nothing can raise it again.
    await _limit_daemon(pid, 1024, 1024)
    _raise_own_limit(ATTACK_CONNECTIONS + 200)
    lines_before = len(daemon.proc.lines)
    attackers: list[socket.socket] = []
    try:
        for _ in range(ATTACK_CONNECTIONS):
            sock = socket_in_netns(daemon.netns, socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", API_PORT))
            attackers.append(sock)
        await daemon.proc.wait_for_log(r"api\.connections\.full", 15)
        assert _open_fds(pid) < 1024 - 200, "a reserve of descriptors stays free"

        await built.cycle_carrier("peer", "eth0", seen_in="host", seen_link="eth0")
        await scripts.wait_for(1, STATE="carrier", LINK="eth0", NETEVD_REPLAY="0")
        status, body = await daemon.http.get("/health")
        assert status == 200, body
    finally:
        for sock in attackers:
            sock.close()
    flood = [text for _, text in daemon.proc.lines[lines_before:]]
    assert not [t for t in flood if "Traceback" in t or "out of system resource" in t]
    assert not [t for t in flood if "Too many open files" in t]
    assert sum(1 for t in flood if "api.connections.full" in t) == 1, "once per burst"
    assert len(flood) < 200, f"{len(flood)} log lines during the attack"


async def test_a_connection_that_sends_nothing_is_closed_after_the_deadline(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.41.1/24"], ["10.231.41.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    daemon = await netevd(built, scripts, api={"header_timeout": 1})
    sock = socket_in_netns(daemon.netns, socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(10)
        sock.connect(("127.0.0.1", API_PORT))
        start = asyncio.get_running_loop().time()
        data = await asyncio.to_thread(sock.recv, 1)  # b"" (or a reset) once the daemon closes
        assert data == b""
        assert asyncio.get_running_loop().time() - start < 5
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    status, _ = await daemon.http.get("/health")
    assert status == 200


async def test_event_streams_are_capped(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.42.1/24"], ["10.231.42.2/24"]))
    daemon = await netevd(built, ScriptDirs(tmp_path / "scripts"), api={"max_streams": 2})
    api = daemon.http
    opened = [await api.session.get(api.base + "/api/v1/events/stream") for _ in range(2)]
    try:
        assert [r.status for r in opened] == [200, 200]
        status, body = await api.get("/api/v1/events/stream")
        assert status == 503
        assert "api.max_streams" in body["error"]
    finally:
        for response in opened:
            response.close()
