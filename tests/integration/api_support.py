"""Talking to a daemon (or a browser) that listens on a lab namespace's own loopback.

The test process stays in the root namespace; each TCP socket it needs is created inside the
lab namespace by a short-lived thread that enters it with setns(2) (a socket keeps the
namespace it was made in), and aiohttp connects it. Nothing is added to the host network.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from pathlib import Path
from typing import Any

import aiohttp

from lab.netevd import NetevdProcess, ScriptDirs, netevd_config, write_config
from netevd.client.http import parse_sse

CLONE_NEWNET = 0x40000000
API_PORT = 9090
_libc = ctypes.CDLL(None, use_errno=True)


def socket_in_netns(netns: str, family: int, kind: int, proto: int) -> socket.socket:
    """A new socket that lives in network namespace *netns*."""
    made: dict[str, Any] = {}

    def enter_and_make() -> None:
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns {netns}: {os.strerror(errno)}")
            finally:
                os.close(fd)
            made["socket"] = socket.socket(family, kind, proto)
        except BaseException as exc:  # handed to the caller's thread
            made["error"] = exc

    # Only this thread enters the namespace, and it ends right after.
    thread = threading.Thread(target=enter_and_make, name=f"setns-{netns}")
    thread.start()
    thread.join()
    if "error" in made:
        raise made["error"]
    sock: socket.socket = made["socket"]
    return sock


def ns_session(netns: str, **kw: Any) -> aiohttp.ClientSession:
    def factory(addr_info: Any) -> socket.socket:
        family, kind, proto = addr_info[0], addr_info[1], addr_info[2]
        return socket_in_netns(netns, family, kind, proto)

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=factory), **kw)


class Api:
    """The daemon's API as seen from inside its namespace."""

    def __init__(self, netns: str, port: int = API_PORT) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = ns_session(netns)

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.session.get(self.base + path, **kw) as response:
            return response.status, await response.json()

    async def data(self, path: str, **kw: Any) -> Any:
        status, body = await self.get(path, **kw)
        assert status == 200, body
        return body["data"]

    async def post(self, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.session.post(self.base + path, **kw) as response:
            return response.status, await response.json()

    async def text(self, path: str) -> str:
        async with self.session.get(self.base + path) as response:
            assert response.status == 200
            return await response.text()


async def start_netevd(
    built: Any, scripts: ScriptDirs, tmp_path: Path, ns: str = "host", **sections: Any
) -> tuple[NetevdProcess, Api]:
    api_section = {"enabled": True, "bind_address": "127.0.0.1", "port": API_PORT}
    api_section.update(sections.pop("api", {}))
    config = netevd_config(scripts, api=api_section, **sections)
    path = write_config(tmp_path / "netevd.yaml", config)
    proc = NetevdProcess(built.ns(ns), path)
    await built.start_process(proc)
    await proc.wait_ready()
    api = Api(built.ns(ns), api_section["port"])
    return proc, api


async def sse_messages(
    response: aiohttp.ClientResponse, count: int, want: Any = None
) -> list[tuple[str, int | None, Any]]:
    """The next *count* SSE messages (kind, id, data) that satisfy *want* (all if None)."""
    found: list[tuple[str, int | None, Any]] = []
    async for kind, ident, data in parse_sse(response.content):
        if want is None or want(kind, data):
            found.append((kind, ident, data))
            if len(found) == count:
                break
    return found
