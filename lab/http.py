"""HTTP to a daemon (or a browser) listening on a lab namespace's own loopback.

The caller stays in the root namespace; each TCP socket it needs is made inside the lab
namespace by a short-lived thread that enters it with setns(2) (a socket keeps the namespace it
was made in), and aiohttp connects that socket. Nothing is added to the host's network: no
route, no forwarded port, no veth into the root namespace.

- :func:`socket_in_netns`: one socket in a namespace;
- :func:`ns_session`: an ``aiohttp.ClientSession`` whose every connection lives in a namespace
  (for websockets, a browser's DevTools port, anything not netevd's API);
- :class:`NsApi`: netevd's REST API, metrics and event stream, as seen from inside;
- :class:`Metrics` / :class:`Histogram`: Prometheus text, parsed with prometheus_client.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from lab.errors import LabError
from lab.net.netns import netns_path
from netevd.client.http import parse_sse

API_PORT = 9090
"""Where netevd's API listens by default (``api.port``), on the namespace's 127.0.0.1."""

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

SseMessage = tuple[str, int | None, Any]
"""One Server-Sent Events message: (event name, id, JSON data)."""


def socket_in_netns(netns: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A new socket that lives in network namespace *netns* (a name under /run/netns).

    Only a helper thread enters the namespace, and it ends right after making the socket, so
    no thread of the caller ever changes namespace.
    """
    made: list[socket.socket] = []
    errors: list[BaseException] = []

    def enter_and_make() -> None:
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns {netns}: {os.strerror(errno)}")
            finally:
                os.close(fd)
            made.append(socket.socket(family, kind, proto))
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=enter_and_make, name=f"setns-{netns}")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return made[0]


def free_port(netns: str, host: str = "127.0.0.1") -> int:
    """A TCP port nothing in namespace *netns* listens on now: the kernel's choice for port 0.
    The namespace is the test's own, so nothing else can take it before the caller binds it."""
    with socket_in_netns(netns, socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def ns_session(netns: str, **kw: Any) -> aiohttp.ClientSession:
    """An aiohttp session whose connections are made inside *netns*; *kw* go to the session."""

    def factory(addr_info: Sequence[Any]) -> socket.socket:
        return socket_in_netns(netns, addr_info[0], addr_info[1], addr_info[2])

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=factory), **kw)


async def sse_messages(
    response: aiohttp.ClientResponse,
    count: int,
    want: Callable[[str, Any], bool] | None = None,
) -> list[SseMessage]:
    """The next *count* messages of an SSE *response* that satisfy ``want(kind, data)`` (all
    when *want* is None). It reads until it has them: bound it with ``asyncio.wait_for``."""
    found: list[SseMessage] = []
    async for kind, ident, data in parse_sse(response.content):
        if want is None or want(kind, data):
            found.append((kind, ident, data))
            if len(found) == count:
                break
    return found


class JsonRequests:
    """``get``/``post`` as netevd's own client makes them, returning ``(status, JSON body)``
    whatever the status: for anything with an aiohttp *session* and a *base* URL (NsApi; the
    unit tests' in-process API world)."""

    session: aiohttp.ClientSession
    base: str

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        """``GET`` *path* (``params=``, ``headers=`` ... as aiohttp takes them)."""
        async with self.session.get(self.base + path, **kw) as response:
            return response.status, await response.json()

    async def post(self, path: str, **kw: Any) -> tuple[int, Any]:
        """``POST`` *path* as netevd's own client does (with the ``X-Netevd-Request`` header
        that marks a change as no web page's; ``X-Netevd-Request: None`` leaves it out)."""
        headers = {"X-Netevd-Request": "1", **kw.pop("headers", {})}
        kw["headers"] = {k: v for k, v in headers.items() if v is not None}
        async with self.session.post(self.base + path, **kw) as response:
            return response.status, await response.json()


class NsApi(JsonRequests):
    """netevd's API on the loopback of namespace *netns*, reached without touching the host.

    ``get``/``post`` return ``(status, JSON body)`` whatever the status; ``data`` returns the
    envelope's ``data`` and raises LabError unless the status is 200. Use it as an async
    context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        netns: str,
        port: int = API_PORT,
        *,
        host: str = "127.0.0.1",
        timeout: float = 60.0,
    ) -> None:
        self.netns = netns
        self.base = f"http://{host}:{port}"
        self.session = ns_session(netns, timeout=aiohttp.ClientTimeout(total=timeout))

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- requests --------------------------------------------------------------------------------

    async def data(self, path: str, **kw: Any) -> Any:
        """The ``data`` of a 200 answer; any other status is a LabError naming it and the body."""
        status, body = await self.get(path, **kw)
        if status != 200:
            raise LabError(f"GET {path}: status {status}, expected 200: {body}")
        return body["data"]

    async def text(self, path: str, **kw: Any) -> str:
        """The body of a 200 answer as text (``/metrics``, the dashboard's HTML)."""
        async with self.session.get(self.base + path, **kw) as response:
            body = await response.text()
            if response.status != 200:
                raise LabError(f"GET {path}: status {response.status}, expected 200: {body}")
            return body

    @contextlib.asynccontextmanager
    async def stream(self, path: str, **kw: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        """An open streaming response (``/api/v1/events/stream``); read it with
        :func:`sse_messages`. No total timeout unless *kw* sets one: a stream has no end."""
        kw.setdefault("timeout", aiohttp.ClientTimeout(total=None, sock_connect=10))
        async with self.session.get(self.base + path, **kw) as response:
            yield response

    # -- what the benchmarks and tests read often -------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """``/api/v1/status``'s data: version, readiness, counts, last event."""
        found: dict[str, Any] = await self.data("/api/v1/status")
        return found

    async def metrics(self) -> Metrics:
        return Metrics.parse(await self.text("/metrics"))

    async def event_ts(self, seq: int) -> float | None:
        """When the engine handled event *seq* (its ``ts``), while it is in the ring buffer."""
        found = await self.data(f"/api/v1/events?since={seq - 1}&limit=1")
        return float(found[0]["ts"]) if found and found[0]["seq"] == seq else None

    async def last_event(self) -> dict[str, Any] | None:
        """The newest event in the ring buffer, or None when there is none."""
        found = await self.data("/api/v1/events?limit=1")
        return dict(found[-1]) if found else None


@dataclass
class Metrics:
    """Prometheus samples by (name, sorted labels)."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Metrics:
        found = cls()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                found.samples[key] = float(sample.value)
        return found

    def total(self, name: str, **labels: str) -> float:
        """Sum of *name* over the samples that carry *labels* (0.0 when none does)."""
        want = set(labels.items())
        return sum(v for (n, lab), v in self.samples.items() if n == name and want <= set(lab))

    def histogram(self, name: str, **labels: str) -> Histogram:
        """Histogram *name* summed over the label sets that carry *labels*."""
        want = set(labels.items())
        by_bound: dict[float, float] = {}
        for (n, lab), value in self.samples.items():
            if n == f"{name}_bucket" and want <= set(lab):
                bound = float(dict(lab)["le"])
                by_bound[bound] = by_bound.get(bound, 0.0) + value
        return Histogram(
            sorted(by_bound.items()),
            self.total(f"{name}_count", **labels),
            self.total(f"{name}_sum", **labels),
        )


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, float]]  # (upper bound, cumulative count)
    count: float
    sum: float

    @property
    def mean(self) -> float:
        return self.sum / self.count if self.count else math.nan

    def quantile(self, q: float) -> float:
        """Prometheus' histogram_quantile: linear inside the bucket that holds the rank."""
        if not self.count or not self.buckets:
            return math.nan
        rank = q * self.count
        lower, below = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower
                inside = cumulative - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
            lower, below = bound, cumulative
        return lower
