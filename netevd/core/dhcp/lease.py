"""dhclient leases: the pure parser of ISC dhclient's lease files, and the lease events.

``parse_leases(text)`` reads what dhclient (``-4``, ``lease {}``) and dhclient6 (``-6``,
``lease6 {}``) write to their lease files and returns every block it believes, in file order,
with the problems it met. It never raises: a block that cannot be read, or whose interface,
address or times are not valid, is skipped and reported; an optional value that is not valid
(a host name with ``$(...)``, a router that is not an address) is left out of its lease and
reported. Everything kept is validated: addresses parse as addresses of the lease's family,
host names and domains are DNS names, the interface is one Linux accepts and netevd passes
to scripts.

dhclient appends a block on every bind and renewal (at most every 15 s) and rewrites the whole
file at start, after 20 appends and on release. The newest block for an interface is its
state: :func:`current_lease` is that block unless it has expired or was released (dhclient -r
rewrites the last IPv4 block with its times set to the moment of release; dhclient6 marks it
``released;``). An older block that has not expired yet is history, not the current lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from netevd.core.dhcp import values as v
from netevd.core.dhcp.syntax import Problem, Statement, Token, statements
from netevd.core.events import LostReason
from netevd.core.model import Lease

MAX_TEXT = 4 * 1024 * 1024  # characters; real lease files are a few KiB
MAX_PROBLEMS = 100  # listed per text; the rest are summed up in one last problem
_INFINITE = v.INFINITE_LIFETIME


@dataclass(frozen=True, slots=True)
class ParseResult:
    leases: tuple[Lease, ...]
    problems: tuple[Problem, ...]
    complete: bool = True  # False: the text ends inside a block (a writer mid-write)


# -- reading ------------------------------------------------------------------------------------


def parse_leases(text: str | bytes) -> ParseResult:
    """Every lease block of *text* that can be believed, in file order, and what was wrong."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")  # every byte maps to one character: never fails
    if len(text) > MAX_TEXT:
        return ParseResult((), (Problem(0, "syntax", f"longer than {MAX_TEXT} characters"),))
    tree, problems, complete = statements(text)
    found: list[Lease] = []
    notes = list(problems)
    for statement in tree:
        keyword = statement.keyword
        if statement.body is not None and len(statement.words) == 1 and keyword in _BLOCKS:
            lease = _BLOCKS[keyword](statement.body, statement.line, notes)
            if lease is not None:
                found.append(lease)
        elif keyword != "default-duid" or statement.body is not None:
            notes.append(Problem(statement.line, "unknown", f"statement {keyword!r} ignored"))
    if len(notes) > MAX_PROBLEMS:
        more = Problem(0, "more", f"{len(notes) - MAX_PROBLEMS} more problems not listed")
        notes[MAX_PROBLEMS:] = [more]
    return ParseResult(tuple(found), tuple(notes), complete)


@dataclass(slots=True)
class _Draft:
    """A lease block's values as they are read; missing required ones make it no lease."""

    family: Literal[4, 6]
    line: int
    interface: str | None = None
    address: str | None = None
    has_address: bool = False
    prefixlen: int | None = None
    subnet_mask: str | None = None
    routers: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    domain: str | None = None
    search: tuple[str, ...] = ()
    host_name: str | None = None
    lease_time: int | None = None
    server: str | None = None
    broadcast: str | None = None
    mtu: int | None = None
    prefixes: tuple[str, ...] = ()
    renew: int | None = None
    rebind: int | None = None
    expire: int | None = None
    has_expire: bool = False
    released: bool = False

    def lease(self, notes: list[Problem]) -> Lease | None:
        missing = [
            name
            for name, present in (
                ("interface", self.interface is not None),
                ("address", self.has_address),
                ("expire", self.has_expire),
            )
            if not present
        ]
        if missing or self.interface is None:
            notes.append(Problem(self.line, "invalid", "lease without " + ", ".join(missing)))
            return None
        return Lease(
            self.interface,
            self.family,
            self.address,
            self.prefixlen,
            self.subnet_mask,
            self.routers,
            self.dns,
            self.domain,
            self.search,
            self.host_name,
            self.lease_time,
            self.server,
            self.broadcast,
            self.mtu,
            self.prefixes,
            self.renew,
            self.rebind,
            self.expire,
            self.released,
            self.line,
        )


def _v4(body: tuple[Statement, ...], line: int, notes: list[Problem]) -> Lease | None:
    draft = _Draft(4, line)
    for statement in body:
        word, rest = statement.keyword, statement.words[1:]
        try:
            if statement.body is not None:
                raise v.RejectedValue(f"unexpected block {word!r}")
            if word == "interface":
                draft.interface = _interface(statement)
            elif word == "fixed-address":
                draft.address, draft.has_address = v.ip(v.single(rest, "word"), 4), True
            elif word == "renew":
                draft.renew = v.when(rest)
            elif word == "rebind":
                draft.rebind = v.when(rest)
            elif word == "expire":
                draft.expire, draft.has_expire = v.when(rest), True
            elif word == "option" and rest and rest[0].kind == "word":
                _v4_option(rest[0].text, rest[1:], draft)
        except v.RejectedValue as exc:
            notes.append(Problem(statement.line, "invalid", f"{word}: {exc}"))
    return draft.lease(notes)


def _v4_option(name: str, words: Sequence[Token], draft: _Draft) -> None:
    if name == "subnet-mask":
        draft.subnet_mask, draft.prefixlen = v.netmask(v.single(words, "word"))
    elif name == "routers":
        draft.routers = tuple(v.ip(w.text, 4) for w in _words(v.items(words)))
    elif name == "domain-name-servers":
        draft.dns = tuple(v.ip(w.text, 4) for w in _words(v.items(words)))
    elif name == "domain-name":
        names = v.single(words, "string").split()
        draft.domain = " ".join(v.dns_name(n) for n in names) or None
    elif name == "domain-search":
        draft.search = tuple(v.dns_name(w.text) for w in _strings(v.items(words)))
    elif name == "host-name":
        draft.host_name = v.dns_name(v.single(words, "string"), host=True)
    elif name == "dhcp-lease-time":
        draft.lease_time = v.number(v.single(words, "word"), high=_INFINITE)
    elif name == "dhcp-server-identifier":
        draft.server = v.ip(v.single(words, "word"), 4)
    elif name == "broadcast-address":
        draft.broadcast = v.ip(v.single(words, "word"), 4)
    elif name == "interface-mtu":
        draft.mtu = v.number(v.single(words, "word"), low=68, high=65535)


@dataclass(frozen=True, slots=True)
class _Binding:
    """One iaaddr or iaprefix of a DHCPv6 lease, with its identity association's timers."""

    value: str
    delegated: bool
    renew: int | None
    rebind: int | None
    expire: int | None
    lifetime: int | None


def _v6(body: tuple[Statement, ...], line: int, notes: list[Problem]) -> Lease | None:
    draft = _Draft(6, line)
    bindings: list[_Binding] = []
    for statement in body:
        word, rest = statement.keyword, statement.words[1:]
        try:
            if word in ("ia-na", "ia-ta", "ia-pd") and statement.body is not None:
                bindings.extend(_v6_ia(statement.body, word == "ia-pd"))
            elif statement.body is not None:
                raise v.RejectedValue(f"unexpected block {word!r}")
            elif word == "interface":
                draft.interface = _interface(statement)
            elif word == "released" and not rest:
                draft.released = True
            elif word == "option" and rest and rest[0].kind == "word":
                _v6_option(rest[0].text, rest[1:], draft)
        except v.RejectedValue as exc:
            notes.append(Problem(statement.line, "invalid", f"{word}: {exc}"))
    addresses = [b for b in bindings if not b.delegated]
    draft.prefixes = tuple(b.value for b in bindings if b.delegated)
    if not bindings:
        notes.append(Problem(line, "invalid", "lease6 without an address or a prefix"))
        return None
    main = (addresses or bindings)[0]
    if addresses:
        draft.address, draft.prefixlen = main.value, 128
    draft.has_address = draft.has_expire = True
    draft.renew, draft.rebind, draft.expire = main.renew, main.rebind, main.expire
    draft.lease_time = main.lifetime
    return draft.lease(notes)


def _v6_ia(body: tuple[Statement, ...], delegated: bool) -> list[_Binding]:
    timers = _timers(body)
    starts = timers.get("starts")
    renew, rebind = _after(starts, timers.get("renew")), _after(starts, timers.get("rebind"))
    found: list[_Binding] = []
    for statement in body:
        if statement.body is None or len(statement.words) != 2:
            continue
        word, value = statement.keyword, statement.words[1].text
        inner = _timers(statement.body)
        life = inner.get("max-life")
        expire = _after(inner.get("starts", starts), life)
        lifetime = None if life == _INFINITE else life
        if word == "iaprefix" and delegated:
            found.append(_Binding(v.prefix(value), True, renew, rebind, expire, lifetime))
        elif word == "iaaddr" and not delegated:
            found.append(_Binding(v.ip(value, 6), False, renew, rebind, expire, lifetime))
    return found


def _timers(body: tuple[Statement, ...]) -> dict[str, int]:
    names = ("starts", "renew", "rebind", "preferred-life", "max-life")
    return {
        s.keyword: v.number(v.single(s.words[1:], "word"))
        for s in body
        if s.body is None and s.keyword in names
    }


def _after(start: int | None, seconds: int | None) -> int | None:
    if start is None or seconds is None or seconds == _INFINITE:
        return None
    return start + seconds


def _v6_option(name: str, words: Sequence[Token], draft: _Draft) -> None:
    if name == "dhcp6.name-servers":
        draft.dns = tuple(v.ip(w.text, 6) for w in _words(v.items(words)))
    elif name == "dhcp6.domain-search":
        draft.search = tuple(v.dns_name(w.text) for w in _strings(v.items(words)))


def _interface(statement: Statement) -> str:
    """dhclient writes the name unescaped: what looks like an escape or a comment in it is
    part of a hostile name (``et\\h0`` must not read as ``eth0``, ``x";#`` not as ``x``)."""
    if statement.comment_after:
        raise v.RejectedValue("a comment follows the interface name (a quote in it?)")
    words = statement.words[1:]
    if any(word.escaped for word in words):
        raise v.RejectedValue("the interface name holds a backslash")
    return v.interface_name(v.single(words, "string"))


def _words(tokens: Iterable[Token]) -> list[Token]:
    found = list(tokens)
    if any(t.kind != "word" for t in found):
        raise v.RejectedValue("expected bare values")
    return found


def _strings(tokens: Iterable[Token]) -> list[Token]:
    found = list(tokens)
    if any(t.kind != "string" for t in found):
        raise v.RejectedValue("expected quoted values")
    return found


_BLOCKS = {"lease": _v4, "lease6": _v6}


# -- what the leases mean -----------------------------------------------------------------------


def expired(lease: Lease, now: float) -> bool:
    return lease.expire is not None and lease.expire <= now


def last_lease(leases: Iterable[Lease], interface: str, family: int | None = None) -> Lease | None:
    """The newest block for *interface* (of *family*, or of any family when None)."""
    found = None
    for lease in leases:
        if lease.interface == interface and family in (None, lease.family):
            found = lease
    return found


def current_lease(
    leases: Iterable[Lease], interface: str, now: float, family: int | None = None
) -> Lease | None:
    """The interface's lease now: its newest block, unless that has expired or was released."""
    last = last_lease(leases, interface, family)
    return last if last is not None and lost_reason(last, now) is None else None


def lost_reason(lease: Lease, now: float) -> LostReason | None:
    """Why *lease*, an interface's newest block, is not current; None when it is."""
    if lease.released:
        return "released"
    if not expired(lease, now):
        return None
    # dhclient -r rewrites the block with renew, rebind and expire all set to the release time.
    if lease.family == 4 and lease.renew == lease.rebind == lease.expire:
        return "released"
    return "expired"


def lease_key(lease: Lease) -> tuple[object, ...]:
    """What scripts see: two leases with the same key differ only in their timers."""
    return (
        lease.interface,
        lease.family,
        lease.address,
        lease.prefixlen,
        lease.subnet_mask,
        lease.routers,
        lease.dns,
        lease.domain,
        lease.search,
        lease.host_name,
        lease.lease_time,
        lease.prefixes,
    )


def same_lease(a: Lease | None, b: Lease | None) -> bool:
    if a is None or b is None:
        return a is b
    return lease_key(a) == lease_key(b)
