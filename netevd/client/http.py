"""Talking to a running daemon's API: endpoints (TCP or unix socket), requests, the event stream.

HTTP/1.1 is h11's (framing, chunked bodies, keep-alive rules); the sockets are asyncio's own
streams. No aiohttp here: the read-only commands (``wait``, ``status``, ``list``, ``events``) run
at every boot and start in a fraction of aiohttp's import. One connection per request.

A daemon that cannot be reached is a RuntimeFailure (exit code 1) with a message saying where
we looked; a request the daemon refuses as malformed is a UsageError (2).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

import h11

from netevd.errors import RuntimeFailure, UsageError

DEFAULT_ENDPOINT = "http://127.0.0.1:9090"
TIMEOUT = 10.0  # seconds for one request (not for a followed stream)
TOKEN_ENV = "NETEVD_API_TOKEN"  # noqa: S105 - the variable's name, not a secret
ENDPOINT_ENV = "NETEVD_API_ENDPOINT"

Out = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    """``http://host:port`` or ``unix:/path/to/socket``."""

    base: str  # the URL requests are made to
    socket: str = ""  # a unix socket path, when given one

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        if text.startswith("unix:"):
            path = text[len("unix:") :]
            if not path.startswith("/"):
                raise UsageError(f"--endpoint {text!r}: a unix socket needs an absolute path")
            return cls("http://localhost", path)
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"--endpoint {text!r} is not an http://HOST:PORT URL or unix:/PATH to a socket"
            )
        return cls(text.rstrip("/"))

    def __str__(self) -> str:
        return f"unix:{self.socket}" if self.socket else self.base


class ApiClient:
    """One session with the daemon's API; every method returns the envelope's data."""

    def __init__(self, endpoint: Endpoint, token: str = "", timeout: float = TIMEOUT) -> None:
        self.endpoint = endpoint
        self._token = token
        self._timeout = timeout

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def _headers(self) -> dict[str, str]:
        # X-Netevd-Request: a change no web page can make cross-site (netevd.api.guard).
        headers = {"Accept": "application/json", "X-Netevd-Request": "1"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return await self._call("GET", path, params)

    async def post(self, path: str) -> Any:
        return await self._call("POST", path, None)

    async def _call(self, method: str, path: str, params: Mapping[str, str] | None) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                async with _Exchange(self.endpoint) as exchange:
                    status = await exchange.send(method, path, params, self._headers())
                    raw = b"".join([chunk async for chunk in exchange.body()])
        except TimeoutError:
            raise RuntimeFailure(
                f"netevd at {self.endpoint} did not answer within {self._timeout:g}s"
            ) from None
        except OSError as exc:
            raise self._unreachable(exc) from None
        body = self._json(status, raw)
        if not body.get("success"):
            message = str(body.get("error") or f"HTTP {status}")
            if status == 400:
                raise UsageError(message)
            raise RuntimeFailure(_with_details(message, body.get("data")))
        return body.get("data")

    def _json(self, status: int, raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or "success" not in body:
            raise RuntimeFailure(
                f"{self.endpoint} answered HTTP {status} with something other than "
                "the netevd API's JSON; is --endpoint pointing at netevd?"
            )
        return body

    def _unreachable(self, exc: BaseException) -> RuntimeFailure:
        errno = getattr(exc, "errno", None)
        reason = os.strerror(errno) if errno else str(exc) or type(exc).__name__
        return RuntimeFailure(
            f"cannot reach netevd at {self.endpoint}: {reason}. Is the daemon running "
            "(systemctl status netevd) with api.enabled: true? Use --endpoint for another "
            "address."
        )

    async def stream(
        self, params: Mapping[str, str], last_id: int | None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(kind, document) from /api/v1/events/stream; resumes by itself after an overflow."""
        while True:
            headers = self._headers()
            if last_id is not None:
                headers["Last-Event-ID"] = str(last_id)
            answered = False
            try:
                async with _Exchange(self.endpoint) as exchange:
                    async with asyncio.timeout(self._timeout):
                        status = await exchange.send(
                            "GET", "/api/v1/events/stream", params, headers
                        )
                    if status != 200:
                        self._json(status, b"".join([c async for c in exchange.body()]))
                    answered = True
                    async for kind, ident, document in parse_sse(exchange.body()):
                        if kind == "overflow":
                            break  # we were too slow: reconnect and resume after last_id
                        last_id = ident if ident is not None else last_id
                        yield kind, document
                    else:
                        raise self._ended()
            except TimeoutError:
                raise RuntimeFailure(
                    f"netevd at {self.endpoint} did not answer within {self._timeout:g}s"
                ) from None
            except OSError as exc:
                # Cut off in the middle of the stream: the daemon went away.
                raise (self._ended() if answered else self._unreachable(exc)) from None

    def _ended(self) -> RuntimeFailure:
        return RuntimeFailure(f"the event stream from {self.endpoint} ended (daemon stopped?)")


class _Exchange:
    """One HTTP request and its response over a fresh connection (h11 keeps the protocol).

    A broken or non-HTTP answer is an OSError, so callers treat it as an unreachable daemon."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._http = h11.Connection(h11.CLIENT)
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def __aenter__(self) -> Self:
        if self._endpoint.socket:
            opened = await asyncio.open_unix_connection(self._endpoint.socket)
        else:
            parts = urlsplit(self._endpoint.base)
            tls = parts.scheme == "https"
            port = parts.port or (443 if tls else 80)
            opened = await asyncio.open_connection(parts.hostname, port, ssl=tls or None)
        self._streams = opened
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._streams is not None:
            self._streams[1].close()

    def _opened(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is None:
            raise RuntimeError("_Exchange used outside 'async with'")
        return self._streams

    async def send(
        self, method: str, path: str, params: Mapping[str, str] | None, headers: dict[str, str]
    ) -> int:
        """Send the request; the response's status once its head has come."""
        target = path + (f"?{urlencode(params)}" if params else "")
        host = "localhost" if self._endpoint.socket else urlsplit(self._endpoint.base).netloc
        fields = [("Host", host), ("Connection", "close"), *headers.items()]
        request = h11.Request(method=method, target=target, headers=fields)
        self._opened()[1].write(
            self._http.send(request) + (self._http.send(h11.EndOfMessage()) or b"")
        )
        event = await self._next()
        if not isinstance(event, h11.Response):
            raise ConnectionError(f"not an HTTP response: {type(event).__name__}")
        return int(event.status_code)

    async def body(self) -> AsyncIterator[bytes]:
        """The response's body as it comes, until its end."""
        while isinstance(event := await self._next(), h11.Data):
            yield bytes(event.data)

    async def _next(self) -> object:
        reader = self._opened()[0]
        try:
            while (event := self._http.next_event()) is h11.NEED_DATA:
                self._http.receive_data(await reader.read(65536))
        except h11.RemoteProtocolError as exc:
            raise ConnectionError(f"a broken HTTP answer ({exc})") from None
        return event


async def parse_sse(
    chunks: AsyncIterable[bytes],
) -> AsyncIterator[tuple[str, int | None, dict[str, Any]]]:
    """Parse Server-Sent Events: (event name, id, JSON data) per message; comments skipped."""
    kind, ident, data = "message", None, ""
    async for raw in _lines(chunks):
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield kind, ident, json.loads(data)
            kind, ident, data = "message", None, ""
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            kind = value
        elif field == "id" and value.isdigit():
            ident = int(value)
        elif field == "data":
            data = f"{data}\n{value}" if data else value


async def _lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The lines of a byte stream, each with its end (a last one without it is dropped)."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *done, pending = pending.split(b"\n")
        for line in done:
            yield line + b"\n"


def _with_details(message: str, data: object) -> str:
    if isinstance(data, dict) and data.get("errors"):
        return message.split(": ", 1)[0] + ":\n  " + "\n  ".join(map(str, data["errors"]))
    return message
