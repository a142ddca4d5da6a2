"""D-Bus requests to systemd-resolved and systemd-hostnamed, built from validated values (pure).

Each builder checks its inputs and returns a :class:`Request` (what to call with which arguments,
exactly as systemd 252 declares them) or an :class:`Invalid` saying why not. The clients in
:mod:`netevd.executors.names.resolved` and :mod:`netevd.executors.names.hostnamed` do the I/O.

- ``org.freedesktop.resolve1.Manager.SetLinkDNS(i ifindex, a(iay) addresses)``: each server as
  (AF_INET 2, 4 bytes) or (AF_INET6 10, 16 bytes).
- ``SetLinkDomains(i ifindex, a(sb) domains)``: search domains, so routing-only is false.
- ``RevertLink(i ifindex)``: drop everything set for the link.
- ``org.freedesktop.hostname1.SetHostname(s hostname, b interactive)``: the transient host name
  (the one a DHCP server may give; a static /etc/hostname still wins), never interactive: a
  daemon has nobody to ask for a password.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from netevd.bus.caller import Invalid, Request
from netevd.core.dhcp.values import RejectedValue, dns_name

RESOLVE1 = "org.freedesktop.resolve1"
RESOLVE1_PATH = "/org/freedesktop/resolve1"
RESOLVE1_MANAGER = "org.freedesktop.resolve1.Manager"
HOSTNAME1 = "org.freedesktop.hostname1"
HOSTNAME1_PATH = "/org/freedesktop/hostname1"
HOSTNAME1_INTERFACE = "org.freedesktop.hostname1"
AF_INET = 2
AF_INET6 = 10
MAX_IFINDEX = 2**31 - 1
MAX_SERVERS = 32  # more DNS servers than any lease carries; a longer list is a lie
MAX_DOMAINS = 64
HOST_NAME_MAX = 64  # Linux's limit, and systemd's hostname_is_valid()


def set_link_dns(ifindex: int, servers: Sequence[str]) -> Request | Invalid:
    if problem := _ifindex_problem(ifindex):
        return Invalid(problem)
    if len(servers) > MAX_SERVERS:
        return Invalid(f"{len(servers)} DNS servers, more than {MAX_SERVERS}")
    addresses: list[tuple[int, bytes]] = []
    for server in servers:
        try:
            address = ipaddress.ip_address(server)
        except ValueError:
            return Invalid(f"DNS server {server!r} is not an IP address")
        if "%" in server:  # SetLinkDNS has no scope: the link is the scope
            return Invalid(f"DNS server {server!r} carries a scope")
        family = AF_INET if address.version == 4 else AF_INET6
        if (family, address.packed) not in addresses:
            addresses.append((family, address.packed))
    return _resolve1("SetLinkDNS", "ia(iay)", ifindex, addresses)


def set_link_domains(ifindex: int, domains: Sequence[str]) -> Request | Invalid:
    if problem := _ifindex_problem(ifindex):
        return Invalid(problem)
    if len(domains) > MAX_DOMAINS:
        return Invalid(f"{len(domains)} search domains, more than {MAX_DOMAINS}")
    names: list[tuple[str, bool]] = []
    for domain in domains:
        try:
            entry = (dns_name(domain), False)  # False: a search domain, not routing-only
        except RejectedValue as exc:
            return Invalid(str(exc))
        if entry not in names:
            names.append(entry)
    return _resolve1("SetLinkDomains", "ia(sb)", ifindex, names)


def revert_link(ifindex: int) -> Request | Invalid:
    if problem := _ifindex_problem(ifindex):
        return Invalid(problem)
    return Request(RESOLVE1, RESOLVE1_PATH, RESOLVE1_MANAGER, "RevertLink", "i", (ifindex,))


def set_hostname(name: str) -> Request | Invalid:
    try:
        valid = dns_name(name, host=True)
    except RejectedValue as exc:
        return Invalid(str(exc))
    if valid != name:
        return Invalid(f"host name {name!r} ends with a dot")
    if len(name) > HOST_NAME_MAX:
        return Invalid(f"host name {name!r} is longer than {HOST_NAME_MAX} characters")
    body = (name, False)  # interactive=false
    return Request(HOSTNAME1, HOSTNAME1_PATH, HOSTNAME1_INTERFACE, "SetHostname", "sb", body)


def _resolve1(member: str, signature: str, ifindex: int, entries: Sequence[object]) -> Request:
    body = (ifindex, tuple(entries))
    return Request(RESOLVE1, RESOLVE1_PATH, RESOLVE1_MANAGER, member, signature, body)


def _ifindex_problem(ifindex: int) -> str | None:
    if isinstance(ifindex, bool) or not isinstance(ifindex, int):
        return f"ifindex {ifindex!r} is not an integer"
    if not 1 <= ifindex <= MAX_IFINDEX:
        return f"ifindex {ifindex} is outside 1..{MAX_IFINDEX}"
    return None
