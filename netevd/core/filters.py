"""The filter condition language: parsed once when the configuration loads, evaluated per event.

The grammar is upstream netevd's (research spec §2.3): atoms joined by `&&` and `||`, `&&` binding
tighter, no parentheses. Upstream evaluated an unknown atom as false and only logged it; here an
unknown atom is a parse error, so a typo is reported by `netevd validate` instead of silently
disabling a filter.
"""

from __future__ import annotations

import fnmatch
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from netevd.core.config import Filter, FilterMatch, MonitoringConfig

Comparison = Literal[">=", "<=", ">", "<", "=="]

GRAMMAR_HINT: Final = 'atoms: has_gateway, dns_count >= N, interface == "name"; joined by && or ||'

_COMPARE: Final[dict[Comparison, Callable[[int, int], bool]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_OPS: Final[dict[str, Comparison]] = {op: op for op in _COMPARE}
_DNS_COUNT: Final = re.compile(r"dns_count\s*(>=|<=|==|>|<)\s*([0-9]{1,9})")
# Upstream also accepted the single '=' form, and configurations in the wild use it.
_INTERFACE: Final = re.compile(r'interface\s*==?\s*"([^"]*)"')


class ConditionError(ValueError):
    """A condition string does not follow the grammar; str() is the whole message."""


@dataclass(frozen=True, slots=True)
class HasGateway:
    pass


@dataclass(frozen=True, slots=True)
class DnsCount:
    op: Comparison
    value: int


@dataclass(frozen=True, slots=True)
class InterfaceIs:
    name: str


Atom = HasGateway | DnsCount | InterfaceIs


@dataclass(frozen=True, slots=True)
class FilterCondition:
    """Disjunctive normal form: true when every atom of at least one clause holds."""

    clauses: tuple[tuple[Atom, ...], ...]


def parse_condition(text: str) -> FilterCondition:
    clauses: list[tuple[Atom, ...]] = []
    for clause in text.split("||"):
        atoms: list[Atom] = []
        for part in clause.split("&&"):
            atom = _parse_atom(part.strip())
            if atom is None:
                raise ConditionError(_cannot_parse(text, part.strip()))
            atoms.append(atom)
        clauses.append(tuple(atoms))
    return FilterCondition(tuple(clauses))


def _parse_atom(text: str) -> Atom | None:
    if text == "has_gateway":
        return HasGateway()
    match = _DNS_COUNT.fullmatch(text)
    if match:
        return DnsCount(_OPS[match.group(1)], int(match.group(2)))
    match = _INTERFACE.fullmatch(text)
    if match:
        return InterfaceIs(match.group(1))
    return None


def _cannot_parse(text: str, atom: str) -> str:
    # Point at the faulty operand only when the condition has more than one.
    if atom == text.strip():
        where = ""
    elif atom:
        where = f" at {atom!r}"
    else:
        where = " (an operand of && or || is missing)"
    return f"cannot parse {text!r}{where} ({GRAMMAR_HINT})"


def evaluate(
    condition: FilterCondition, *, has_gateway: bool, dns_count: int, interface: str
) -> bool:
    return any(
        all(_holds(atom, has_gateway, dns_count, interface) for atom in clause)
        for clause in condition.clauses
    )


def _holds(atom: Atom, has_gateway: bool, dns_count: int, interface: str) -> bool:
    if isinstance(atom, HasGateway):
        return has_gateway
    if isinstance(atom, InterfaceIs):
        return interface == atom.name
    return _COMPARE[atom.op](dns_count, atom.value)


@dataclass(frozen=True, slots=True)
class Subject:
    """What a filter is matched against: one run of one directory for one link."""

    interface: str
    event_type: str
    backend: str
    addresses: tuple[str, ...]
    has_gateway: bool
    dns_count: int = 0


def matches(match: FilterMatch, subject: Subject) -> bool:
    """True when every field given in *match* holds for *subject* (AND)."""
    checks = (
        match.interface is None or match.interface == subject.interface,
        match.interface_pattern is None
        or fnmatch.fnmatchcase(subject.interface, match.interface_pattern),
        match.event_type is None or match.event_type == subject.event_type,
        match.backend is None or match.backend == subject.backend,
        match.ip_family in (None, "any") or _has_family(subject.addresses, match.ip_family),
    )
    if not all(checks):
        return False
    if match.condition is None:
        return True
    return evaluate(
        parse_condition(match.condition),
        has_gateway=subject.has_gateway,
        dns_count=subject.dns_count,
        interface=subject.interface,
    )


def _has_family(addresses: tuple[str, ...], family: str | None) -> bool:
    want_v6 = family == "ipv6"
    return any((":" in a) == want_v6 for a in addresses)


def decide(filters: tuple[Filter, ...], subject: Subject) -> tuple[bool, list[int]]:
    """Walk the filters in order: the first matching execute/ignore decides; a matching
    ``log`` is noted and the walk goes on; with no decision the scripts run (upstream's
    default). Returns (run, indexes of the log filters that matched)."""
    logged: list[int] = []
    for position, item in enumerate(filters):
        if not matches(item.match, subject):
            continue
        if item.action == "log":
            logged.append(position)
            continue
        return item.action == "execute", logged
    return True, logged


@functools.lru_cache(maxsize=4096)  # asked for every event of a storm; names are few
def monitored(name: str, monitoring: MonitoringConfig) -> bool:
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in monitoring.exclude):
        return False
    if not monitoring.interfaces:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in monitoring.interfaces)
