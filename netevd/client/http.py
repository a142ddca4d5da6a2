"""Talking to a running daemon's API: endpoints (TCP or unix socket), requests, the event stream.

A daemon that cannot be reached is a RuntimeFailure (exit code 1) with a message saying where
we looked; a request the daemon refuses as malformed is a UsageError (2).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp

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
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.UnixConnector(self.endpoint.socket) if self.endpoint.socket else None
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("ApiClient used outside 'async with'")
        return self._session

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
        url = self.endpoint.base + path
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        try:
            async with self.session.request(
                method, url, params=params, headers=self._headers(), timeout=timeout
            ) as response:
                body = await self._json(response)
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise self._unreachable(exc) from None
        except TimeoutError:
            raise RuntimeFailure(
                f"netevd at {self.endpoint} did not answer within {self._timeout:g}s"
            ) from None
        if not body.get("success"):
            message = str(body.get("error") or f"HTTP {response.status}")
            if response.status == 400:
                raise UsageError(message)
            raise RuntimeFailure(_with_details(message, body.get("data")))
        return body.get("data")

    async def _json(self, response: aiohttp.ClientResponse) -> dict[str, Any]:
        try:
            body = await response.json(content_type=None)
        except (json.JSONDecodeError, UnicodeDecodeError, aiohttp.ContentTypeError):
            body = None
        if not isinstance(body, dict) or "success" not in body:
            raise RuntimeFailure(
                f"{self.endpoint} answered HTTP {response.status} with something other than "
                "the netevd API's JSON; is --endpoint pointing at netevd?"
            )
        return body

    def _unreachable(self, exc: BaseException) -> RuntimeFailure:
        cause = getattr(exc, "os_error", exc)  # aiohttp wraps the socket's error
        errno = getattr(cause, "errno", None)
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
            try:
                async with self.session.get(
                    self.endpoint.base + "/api/v1/events/stream",
                    params=params,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeout),
                ) as response:
                    if response.status != 200:
                        await self._json(response)  # raises with the daemon's message
                    async for kind, ident, document in parse_sse(response.content):
                        if kind == "overflow":
                            break  # we were too slow: reconnect and resume after last_id
                        last_id = ident if ident is not None else last_id
                        yield kind, document
                    else:
                        raise self._ended()
            except aiohttp.ClientPayloadError:
                raise self._ended() from None
            except (aiohttp.ClientConnectionError, OSError) as exc:
                raise self._unreachable(exc) from None

    def _ended(self) -> RuntimeFailure:
        return RuntimeFailure(f"the event stream from {self.endpoint} ended (daemon stopped?)")


async def parse_sse(
    content: aiohttp.StreamReader,
) -> AsyncIterator[tuple[str, int | None, dict[str, Any]]]:
    """Parse Server-Sent Events: (event name, id, JSON data) per message; comments skipped."""
    kind, ident, data = "message", None, ""
    async for raw in content:
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


def _with_details(message: str, data: object) -> str:
    if isinstance(data, dict) and data.get("errors"):
        return message.split(": ", 1)[0] + ":\n  " + "\n  ".join(map(str, data["errors"]))
    return message
