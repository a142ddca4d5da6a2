"""The filter condition language: parsed once when the configuration loads, evaluated per event.

The grammar is upstream netevd's (research spec §2.3): atoms joined by `&&` and `||`, `&&` binding
tighter, no parentheses. Upstream evaluated an unknown atom as false and only logged it; here an
unknown atom is a parse error, so a typo is reported by `netevd validate` instead of silently
disabling a filter.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

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
class Condition:
    """Disjunctive normal form: true when every atom of at least one clause holds."""

    clauses: tuple[tuple[Atom, ...], ...]


def parse_condition(text: str) -> Condition:
    clauses: list[tuple[Atom, ...]] = []
    for clause in text.split("||"):
        atoms: list[Atom] = []
        for part in clause.split("&&"):
            atom = _parse_atom(part.strip())
            if atom is None:
                raise ConditionError(_cannot_parse(text, part.strip()))
            atoms.append(atom)
        clauses.append(tuple(atoms))
    return Condition(tuple(clauses))


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


def evaluate(condition: Condition, *, has_gateway: bool, dns_count: int, interface: str) -> bool:
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
