"""Checks of single configuration values: each returns the value to keep or raises Invalid.

A message says what is wrong with the value and what is allowed; the caller adds the key path.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from netevd.config.report import show
from netevd.core.directories import Directory, directory_for
from netevd.core.environment import kernel_name_problem
from netevd.core.filters import ConditionError, parse_condition

_ENV_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_ENV_FALSE: Final = frozenset({"false", "no", "off", "0"})

_USER: Final = re.compile(r"[a-z_][a-z0-9_-]*[$]?")
_PORT: Final = re.compile(r"[0-9]{1,5}")


class Invalid(Exception):
    """A value failed its check; the message lacks the key path, which the caller adds."""


@dataclass(frozen=True)
class Check:
    """A check of one value: returns the value to keep or raises Invalid. *kind* and *allowed*
    say what it accepts, for the key reference (netevd.yaml(5), docs/configuration.md)."""

    run: Callable[[object], object]
    kind: str  # boolean | integer | number | string
    allowed: str

    def __call__(self, value: object) -> object:
        return self.run(value)


Scalar: TypeAlias = Check


def described(kind: str, allowed: str) -> Callable[[Callable[[object], object]], Check]:
    def wrap(run: Callable[[object], object]) -> Check:
        return Check(run, kind, allowed)

    return wrap


def one_of(allowed: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> Scalar:
    def check(value: object) -> object:
        if isinstance(value, str):
            chosen = (aliases or {}).get(value, value)
            if chosen in allowed:
                return chosen
        raise Invalid(f"{show(value)} is not allowed; choose one of {', '.join(allowed)}")

    also = f" ({', '.join(f'{a} is read as {b}' for a, b in (aliases or {}).items())})"
    return Check(check, "string", ", ".join(allowed) + (also if aliases else ""))


@described("boolean", "true, false")
def boolean(value: object) -> object:
    if isinstance(value, bool):
        return value
    raise Invalid(f"{show(value)} must be true or false")


def integer(low: int, high: int) -> Scalar:
    def check(value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        raise Invalid(f"{show(value)} must be an integer from {low} to {high}")

    return Check(check, "integer", f"{low} to {high}")


def seconds(*, zero_allowed: bool) -> Scalar:
    bound = "greater than or equal to 0" if zero_allowed else "greater than 0"

    def check(value: object) -> object:
        problem = Invalid(f"{show(value)} must be a number {bound}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise problem
        if math.isfinite(value) and (value > 0 or (zero_allowed and value == 0)):
            return float(value)
        raise problem

    return Check(check, "number", "0 or more" if zero_allowed else "greater than 0")


@described("integer", "1 to 65535")
def port_number(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    raise Invalid(f"{show(value)} is not a port number (1-65535)")


@described("string", "an absolute path")
def absolute_path(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "\0" not in value:
        return value
    raise Invalid(f"{show(value)} is not an absolute path")


@described(
    "string",
    '"" (keep the starting user), root, or a user name: lower-case letters, digits, _ and -, '
    "at most 32 characters",
)
def user_name(value: object) -> object:
    if isinstance(value, str) and (value == "" or (len(value) <= 32 and _USER.fullmatch(value))):
        return value
    raise Invalid(
        f"{show(value)} is not a user name (lower-case letters, digits, _ and -, at most 32;"
        ' "" keeps the starting user)'
    )


@described("string", "an IPv4 or IPv6 address, or localhost")
def bind_address(value: object) -> object:
    if value == "localhost":
        return value
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            pass
        else:
            return value
    raise Invalid(f"{show(value)} is not an IP address or localhost")


_HOST_LABEL: Final = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@described("string", "a DNS name or an IP address")
def host_name(value: object) -> object:
    """A DNS name or an IP address (brackets allowed around IPv6), as a Host header names it."""
    if isinstance(value, str):
        bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
        try:
            ipaddress.ip_address(bare)
        except ValueError:
            labels = value.lower().rstrip(".").split(".")
            if len(value) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels):
                return value.lower().rstrip(".")
        else:
            return bare
    raise Invalid(f"{show(value)} is not a host name or IP address")


@described("string", "an interface name or glob (at most 15 bytes; no /, :, whitespace)")
def interface_name(value: object) -> object:
    # The kernel's rule; glob characters are legal there, so globs pass too.
    if isinstance(value, str) and kernel_name_problem(value) is None:
        return value
    raise Invalid(f"{show(value)} is not an interface name")


@described("string", "a script directory's name without .d (routable, carrier, activated, ...)")
def event_type(value: object) -> object:
    """A script directory's name (without ``.d``): the one vocabulary of netevd.core.directories."""
    if isinstance(value, str) and directory_for(value) is not None:
        return value
    names = ", ".join(d.value for d in Directory)
    raise Invalid(f"{show(value)} is not a script directory; choose one of {names}")


@described("string", "a condition (see CONDITIONS)")
def condition(value: object) -> object:
    if not isinstance(value, str):
        raise Invalid(f"must be a condition string, got {show(value)}")
    try:
        parse_condition(value)
    except ConditionError as exc:
        raise Invalid(str(exc)) from None
    return value


@described("boolean", "true/false, yes/no, on/off, 1/0, any case")
def env_boolean(value: object) -> object:
    text = str(value).lower()
    if text in _ENV_TRUE or text in _ENV_FALSE:
        return text in _ENV_TRUE
    raise Invalid(f"{show(value)} must be true or false (or yes/no, on/off, 1/0)")


@described("integer", "a decimal number from 1 to 65535")
def env_port(value: object) -> object:
    if isinstance(value, str) and _PORT.fullmatch(value):
        try:
            return port_number(int(value))
        except Invalid:
            pass
    raise Invalid(f"{show(value)} is not a port number (1-65535)")


TOKEN_MIN: Final = 16
_TOKEN: Final = re.compile(r"[\x21-\x7e]+")  # printable ASCII: it travels in an HTTP header
Problem = tuple[str, str]


@described("string", '"" or at least 16 printable ASCII characters, no spaces')
def api_token(value: object) -> object:
    if value == "":
        return value
    # A token is a secret: the messages describe it and never repeat it.
    if not isinstance(value, str):
        raise Invalid(f"must be a string, got {show(value)}")
    if not _TOKEN.fullmatch(value):
        raise Invalid("must be printable ASCII without spaces (the value is not shown)")
    if len(value) < TOKEN_MIN:
        raise Invalid(f"is too short ({len(value)} characters); use at least {TOKEN_MIN}")
    return value


@described("string", '"" or an absolute path')
def optional_path(value: object) -> object:
    if value == "":
        return value
    try:
        return absolute_path(value)
    except Invalid:
        raise Invalid(f'{show(value)} is not an absolute path (or "" for none)') from None


RESERVED_TABLES: Final = {253: "default", 254: "main", 255: "local"}


def table_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**32 - 1:
        raise Invalid(f"{show(value)} must be a table number from 1 to 4294967295")
    if value in RESERVED_TABLES:
        raise Invalid(
            f"{value} is the kernel's {RESERVED_TABLES[value]} table; choose 1-252 or 256 and up"
        )
    return value


@described("string", "an IPv4 or IPv6 address or network (10.0.0.1, 10.0.0.0/24, fd00::/64)")
def neighbour_address(value: object) -> object:
    """``monitoring.neighbors[i]``: an address or a network, kept as written."""
    try:
        ipaddress.ip_network(value if isinstance(value, str) else "", strict=False)
    except ValueError:
        raise Invalid(f"{show(value)} must be an IPv4 or IPv6 address or network") from None
    return value


@described("integer", "1 to 4294967295 (254 is main)")
def route_table(value: object) -> object:
    """``monitoring.route_tables[i]``: any table id, main (254) and local (255) included."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**32 - 1:
        raise Invalid(f"{show(value)} must be a table number from 1 to 4294967295")
    return value


def pinned_tables(value: object) -> tuple[tuple[tuple[str, int], ...] | None, list[Problem]]:
    """``routing.tables``: interface name -> pinned table, each table used once. Returns the
    pairs (None when anything was wrong) and the problems as (".key" suffix, message)."""
    if value is None:
        return (), []
    if not isinstance(value, dict):
        return None, [("", f"must be a mapping of interface name to table, got {show(value)}")]
    pinned: dict[str, int] = {}
    problems: list[Problem] = []
    for name, table in value.items():
        try:
            key = str(interface_name(name))
            number = table_number(table)
        except Invalid as exc:
            problems.append((f".{name}", str(exc)))
            continue
        if number in pinned.values():
            problems.append((f".{name}", f"table {number} is already pinned to another interface"))
            continue
        pinned[key] = number
    return (tuple(sorted(pinned.items())), []) if not problems else (None, problems)
