"""Who may talk to the API: the Host and Origin checks and the rule for changes.

A web page the user visits can make the browser send requests to ``127.0.0.1:9090``: with DNS
rebinding (``Host: rebind.attacker.example``) it can even read the answers, and a cross-site
``text/plain`` form POST needs no permission at all. So every request over TCP must name one of
this API's own hosts (the bound address, ``localhost``, ``127.0.0.1``, ``[::1]``, the address
the connection arrived at, and ``api.allowed_hosts``), any ``Origin`` must be this very origin,
and a change (POST) must carry ``Content-Type: application/json`` or the ``X-Netevd-Request``
header, which no page can send cross-site without a CORS preflight this API never grants. The
unix socket is exempt: no browser reaches it, and its file mode is its authorization.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp import web

CUSTOM_HEADER = "X-Netevd-Request"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def normal_host(name: str) -> str:
    """A host name or address as compared: lower case, no brackets, no trailing dot."""
    name = name.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[v6][:port]`` as (name, port); None when it is no such thing."""
    value = value.strip()
    if value.startswith("["):
        inside, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        name, port_text = inside, rest[1:]
    elif value.count(":") > 1:
        name, port_text = value, ""  # a bare IPv6 address (not valid in Host, but unambiguous)
    else:
        name, _, port_text = value.partition(":")
    if not name:
        return None
    if not port_text:
        return normal_host(name), None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return normal_host(name), int(port_text)


def allowed_hosts(bind_address: str, configured: tuple[str, ...]) -> frozenset[str]:
    names = {normal_host(n) for n in (*LOCAL_NAMES, *configured)}
    if not ipaddress_is_unspecified(bind_address):
        names.add(normal_host(bind_address))
    return frozenset(names)


def ipaddress_is_unspecified(address: str) -> bool:
    """0.0.0.0 / :: name no host; the address a connection arrives at is allowed instead."""
    try:
        return ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return address == ""


def over_unix_socket(request: web.Request) -> bool:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    return sock is not None and sock.family == socket.AF_UNIX


def _arrived_at(request: web.Request) -> str:
    """The local address the connection came in on (an IP literal cannot be rebound)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and sockname:
        return normal_host(str(sockname[0]))
    return ""


def host_problem(request: web.Request, allowed: frozenset[str]) -> str:
    raw = request.headers.get("Host")
    if raw is None:
        return "a Host header is required"
    parsed = split_host(raw)
    if parsed is None:
        return f"the Host header {raw!r} is not a host name"
    name, _ = parsed
    if name in allowed or name == _arrived_at(request):
        return ""
    return (
        f"this API does not answer to the host {name!r} (a web page using DNS rebinding "
        "looks like this); add the name to api.allowed_hosts if it is yours"
    )


def origin_problem(request: web.Request) -> str:
    """An ``Origin`` header must be this API's own origin: same host and port as ``Host``."""
    origin = request.headers.get("Origin")
    if origin is None:
        return ""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return f"the Origin {origin!r} is not this API's origin"
    if parts.scheme != "http" or not parts.hostname:
        return f"requests from the origin {origin!r} are refused"
    host = split_host(request.headers.get("Host", ""))
    if host is None or normal_host(parts.hostname) != host[0] or (port or 80) != (host[1] or 80):
        return f"requests from the origin {origin!r} are refused (cross-site)"
    return ""


def mutation_problem(request: web.Request) -> str:
    """A change must be a request no cross-site form or simple fetch can make."""
    if request.method in SAFE_METHODS or request.match_info.http_exception is not None:
        return ""  # a read, or no such endpoint/method: the 404/405 says more
    if request.content_type == "application/json" or CUSTOM_HEADER in request.headers:
        return ""
    return (
        f"a {request.method} must be sent with 'Content-Type: application/json' or the "
        f"'{CUSTOM_HEADER}' header (this keeps web pages from making changes)"
    )


def request_problem(request: web.Request, allowed: frozenset[str]) -> str:
    """Why *request* is refused ("" when it may go on)."""
    if over_unix_socket(request):
        return ""
    return host_problem(request, allowed) or origin_problem(request) or mutation_problem(request)
