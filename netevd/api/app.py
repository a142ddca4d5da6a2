"""The aiohttp application and server: routes, the JSON error middleware, the listeners.

The server listens on ``api.bind_address:api.port`` and, when ``api.socket`` is set, on a unix
socket too (mode 0660; reaching it is the authorization). It reads only the DaemonView.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import stat
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from netevd.api import handlers as h
from netevd.api import openapi
from netevd.api.connections import (
    ConnectionLimiter,
    GuardedTCPSite,
    GuardedUnixSite,
    connection_limit,
)
from netevd.api.guard import allowed_hosts, request_problem
from netevd.api.handlers import OPENAPI, SETTINGS, VIEW, ApiSettings, failure
from netevd.api.params import ParamError
from netevd.api.sse import STREAMS, stop_streams, stream
from netevd.api.view import DaemonView
from netevd.core.config import ApiConfig
from netevd.errors import RuntimeFailure

log = logging.getLogger("netevd.api")

SHUTDOWN_TIMEOUT = 3.0  # seconds requests in flight get when the daemon stops
KEEPALIVE_TIMEOUT = 15.0  # seconds an idle keep-alive connection is kept
SOCKET_MODE = 0o660
STATIC = {  # URL path -> (package file, content type); nothing else is served from disk
    "/": ("index.html", "text/html"),
    "/static/app.js": ("app.js", "text/javascript"),
    "/static/plots.js": ("plots.js", "text/javascript"),
    "/static/style.css": ("style.css", "text/css"),
}
# The dashboard runs only its own files and talks only to this origin.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[StreamResponse]]


class _AccessLog(AbstractAccessLogger):
    """One debug line per request: the journal should not fill with dashboard refreshes."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.debug(
            "api.request method=%s path=%r status=%d duration=%.4f",
            request.method,
            request.path,
            response.status,
            time,
        )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> StreamResponse:
    """Every error is the JSON envelope with a message; never a traceback."""
    try:
        return await handler(request)
    except ParamError as exc:
        return failure(400, str(exc))
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return failure(
            405,
            f"method {request.method} is not allowed on {request.path}; use {allowed}",
            headers={"Allow": allowed},
        )
    except web.HTTPNotFound:
        return failure(404, f"no such endpoint: {request.method} {request.path}")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return failure(exc.status, exc.reason)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("api.error method=%s path=%r", request.method, request.path)
        return failure(500, "internal error; the daemon's log has the details")


@web.middleware
async def refuse_foreign(request: web.Request, handler: Handler) -> StreamResponse:
    """Host allow-list, same-origin only, and changes only as JSON (netevd.api.guard)."""
    problem = request_problem(request, request.app[SETTINGS].allowed_hosts)
    if problem:
        log.debug("api.refused method=%s path=%r reason=%r", request.method, request.path, problem)
        return failure(403, problem)
    return await handler(request)


async def _security_headers(request: web.Request, response: StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.content_type == "text/html":
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")


def _static_handler(body: bytes, content_type: str) -> Handler:
    async def serve(request: web.Request) -> StreamResponse:
        return web.Response(body=body, content_type=content_type, charset="utf-8")

    return serve


def read_static() -> dict[str, bytes]:
    """The dashboard files from package data (blocking: call through to_thread)."""
    base = resources.files("netevd.api") / "static"
    return {name: (base / name).read_bytes() for name, _ in STATIC.values()}


def build_app(
    view: DaemonView,
    settings: ApiSettings,
    static: dict[str, bytes],
    limiter: ConnectionLimiter | None = None,
) -> web.Application:
    middlewares = [json_errors, refuse_foreign]
    if limiter is not None:
        middlewares.insert(0, limiter.middleware)
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024)
    app[VIEW] = view
    app[SETTINGS] = settings
    app[OPENAPI] = json.dumps(openapi.build(), indent=1).encode()
    app[STREAMS] = set()
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(stop_streams)
    get: dict[str, Handler] = {
        "/api/v1/status": h.status,
        "/api/v1/interfaces": h.interfaces,
        "/api/v1/interfaces/{name}": h.interface,
        "/api/v1/routes": h.routes,
        "/api/v1/rules": h.rules,
        "/api/v1/events": h.events,
        "/api/v1/events/stream": stream,
        "/api/v1/history": h.history,
        "/api/v1/scripts": h.scripts,
        "/api/v1/openapi.json": h.openapi,
        "/health": h.health,
        "/metrics": h.metrics,
    }
    for path, (name, content_type) in STATIC.items():
        get[path] = _static_handler(static[name], content_type)
    for path, handler in get.items():
        # No implicit HEAD: the Allow header then lists exactly what the OpenAPI document does.
        app.router.add_get(path, handler, allow_head=False)
    app.router.add_post("/api/v1/reload", h.reload)
    return app


async def settings_from(config: ApiConfig, *, metrics: bool, heartbeat: float) -> ApiSettings:
    token, problem = config.token, ""
    if config.token_file:
        token, problem = await asyncio.to_thread(read_token_file, config.token_file)
    return ApiSettings(
        bind_address=config.bind_address,
        port=config.port,
        socket=config.socket,
        token=token,
        token_problem=problem,
        metrics=metrics,
        heartbeat=heartbeat,
        allowed_hosts=allowed_hosts(config.bind_address, config.allowed_hosts),
        max_streams=config.max_streams,
    )


def read_token_file(path: str) -> tuple[str, str]:
    """(token, problem): a file that cannot be used disables changes instead of opening them."""
    try:
        st = os.stat(path)
        token = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        log.error("api.token_file.unreadable path=%s reason=%r", path, reason)
        return "", f"api.token_file {path} cannot be read ({reason})"
    if not token or any(c.isspace() for c in token):
        log.error("api.token_file.invalid path=%s", path)
        return "", f"api.token_file {path} must hold one token (no spaces)"
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO) & ~stat.S_IRGRP:
        mode = stat.S_IMODE(st.st_mode)
        log.warning("api.token_file.permissions path=%s mode=%o (keep it 0600 or 0640)", path, mode)
    return token, ""


class ApiServer:
    """Starts and stops the listeners; ``port=0`` (tests) binds a free port."""

    def __init__(
        self,
        view: DaemonView,
        config: ApiConfig,
        *,
        metrics: bool = True,
        port: int | None = None,
        heartbeat: float = 15.0,
    ) -> None:
        self._view = view
        self._config = config
        self._metrics = metrics
        self._port = config.port if port is None else port
        self._heartbeat = heartbeat
        self._runner: web.AppRunner | None = None
        self.addresses: list[str] = []  # what it listens on, for logs and tests
        self.limiter = ConnectionLimiter(
            connection_limit(config.max_connections, soft_nofile()), config.header_timeout
        )

    async def start(self) -> None:
        settings = await settings_from(
            self._config, metrics=self._metrics, heartbeat=self._heartbeat
        )
        static = await asyncio.to_thread(read_static)
        app = build_app(self._view, settings, static, self.limiter)
        runner = web.AppRunner(
            app,
            keepalive_timeout=KEEPALIVE_TIMEOUT,
            access_log_class=_AccessLog,
            access_log=log,
            handler_cancellation=True,  # a client that hangs up ends its stream at once
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        self._runner = runner
        try:
            await self._listen_tcp(runner, settings)
            if settings.socket:
                await self._listen_unix(runner, settings.socket)
        except BaseException:
            await self.stop()
            raise
        log.info(
            "api.listening on=%s max_connections=%d",
            ",".join(self.addresses),
            self.limiter.limit,
        )

    async def _listen_tcp(self, runner: web.AppRunner, settings: ApiSettings) -> None:
        host = settings.bind_address
        site = GuardedTCPSite(runner, self.limiter, host=host, port=self._port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise RuntimeFailure(
                f"the API cannot listen on {host} port {self._port}: {_reason(exc)}"
                " (set api.bind_address / api.port, or api.enabled: false)"
            ) from None
        for bound in runner.addresses:  # the real port, when 0 was asked for
            if isinstance(bound, tuple):
                address, port = bound[:2]
                self.addresses.append(
                    f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
                )

    async def _listen_unix(self, runner: web.AppRunner, path: str) -> None:
        await asyncio.to_thread(_clear_stale_socket, path)
        site = GuardedUnixSite(runner, path, self.limiter)
        try:
            await site.start()
            await asyncio.to_thread(os.chmod, path, SOCKET_MODE)
        except OSError as exc:
            raise RuntimeFailure(
                f"the API cannot listen on unix socket {path}: {_reason(exc)}"
            ) from None
        self.addresses.append(f"unix:{path}")

    @property
    def port(self) -> int:
        """The TCP port bound (the real one when 0 was asked for)."""
        for address in self.addresses:
            if not address.startswith("unix:"):
                return int(address.rsplit(":", 1)[1])
        return self._port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await runner.cleanup()
        if self._config.socket and f"unix:{self._config.socket}" in self.addresses:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.unlink, self._config.socket)
        log.info("api.stopped")


def soft_nofile() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _reason(exc: OSError) -> str:
    # asyncio rewrites strerror into a sentence that repeats the address; the errno is enough.
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _clear_stale_socket(path: str) -> None:
    """A socket file left by a crashed run is removed; anything else at the path is not ours."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise RuntimeFailure(f"api.socket {path} exists and is not a socket; not replacing it")
    os.unlink(path)
