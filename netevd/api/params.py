"""Query parameters: parsed strictly, and a bad one is a 400 that names it, its value and the rule.

Unknown parameters are ignored (as HTTP caches and proxies may add their own); a known one given
twice is refused, since silently taking either value would hide the caller's bug.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from multidict import MultiMapping

from netevd.core.kinds import KINDS
from netevd.core.model import AF_INET, AF_INET6

LIMIT_MAX = 1000
LIMIT_DEFAULT = 100
TABLE_MAX = 2**32 - 1
SEQ_MAX = 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]{1,20}")

FAMILY_VALUES: Mapping[str, int] = {"4": AF_INET, "inet": AF_INET, "6": AF_INET6, "inet6": AF_INET6}

# The kinds of records in the event log: the one vocabulary, netevd.core.kinds.
EVENT_TYPES = KINDS


class ParamError(ValueError):
    """A query parameter that breaks its rule; the message is what the 400 says."""


def _shown(value: str) -> str:
    return repr(value[:64] + ("..." if len(value) > 64 else ""))


def _single(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    if len(values) > 1:
        raise ParamError(f"query parameter {name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _integer(query: MultiMapping[str], name: str, low: int, high: int) -> int | None:
    raw = _single(query, name)
    if raw is None:
        return None
    rule = f"must be an integer from {low} to {high}"
    if not _INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
        raise ParamError(f"query parameter {name}={_shown(raw)} {rule}")
    return int(raw)


def _text(query: MultiMapping[str], name: str) -> str | None:
    raw = _single(query, name)
    if raw == "":
        raise ParamError(f"query parameter {name} is empty; leave it out to match everything")
    return raw


def _family(query: MultiMapping[str]) -> int | None:
    raw = _single(query, "family")
    if raw is None:
        return None
    if raw not in FAMILY_VALUES:
        raise ParamError(f"query parameter family={_shown(raw)} must be one of 4, 6, inet, inet6")
    return FAMILY_VALUES[raw]


def _event_type(query: MultiMapping[str]) -> str | None:
    raw = _single(query, "type")
    if raw is None:
        return None
    if raw not in EVENT_TYPES:
        raise ParamError(
            f"query parameter type={_shown(raw)} must be one of {', '.join(EVENT_TYPES)}"
        )
    return raw


@dataclass(frozen=True)
class RouteQuery:
    table: int | None = None
    family: int | None = None
    interface: str | None = None

    @classmethod
    def parse(cls, query: MultiMapping[str]) -> RouteQuery:
        return cls(
            table=_integer(query, "table", 0, TABLE_MAX),
            family=_family(query),
            interface=_text(query, "interface"),
        )


@dataclass(frozen=True)
class RuleQuery:
    table: int | None = None
    family: int | None = None

    @classmethod
    def parse(cls, query: MultiMapping[str]) -> RuleQuery:
        return cls(table=_integer(query, "table", 0, TABLE_MAX), family=_family(query))


@dataclass(frozen=True)
class EventQuery:
    limit: int = LIMIT_DEFAULT
    since: int | None = None
    interface: str | None = None
    type: str | None = None

    @classmethod
    def parse(cls, query: MultiMapping[str]) -> EventQuery:
        limit = _integer(query, "limit", 1, LIMIT_MAX)
        return cls(
            limit=LIMIT_DEFAULT if limit is None else limit,
            since=_integer(query, "since", 0, SEQ_MAX),
            interface=_text(query, "interface"),
            type=_event_type(query),
        )

    def matches(self, link_name: str | None, kind: str) -> bool:
        return (self.interface is None or link_name == self.interface) and (
            self.type is None or kind == self.type
        )


def last_event_id(header: str | None, since: int | None) -> int | None:
    """Where an event stream resumes: the Last-Event-ID header wins over ?since=."""
    if header is None:
        return since
    raw = header.strip()
    if not _INTEGER.fullmatch(raw) or not 0 <= int(raw) <= SEQ_MAX:
        raise ParamError(
            f"header Last-Event-ID={_shown(header)} must be an event sequence number "
            f"(an integer from 0 to {SEQ_MAX})"
        )
    return int(raw)
