"""Checks of single configuration values: each returns the value to keep or raises Invalid.

A message says what is wrong with the value and what is allowed; the caller adds the key path.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from typing import Final, TypeAlias

from netevd.config.report import show
from netevd.core.directories import Directory, directory_for
from netevd.core.filters import ConditionError, parse_condition

_ENV_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_ENV_FALSE: Final = frozenset({"false", "no", "off", "0"})

_USER: Final = re.compile(r"[a-z_][a-z0-9_-]*[$]?")
_PORT: Final = re.compile(r"[0-9]{1,5}")


class Invalid(Exception):
    """A value failed its check; the message lacks the key path, which the caller adds."""


Scalar: TypeAlias = Callable[[object], object]


def one_of(allowed: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> Scalar:
    def check(value: object) -> object:
        if isinstance(value, str):
            chosen = (aliases or {}).get(value, value)
            if chosen in allowed:
                return chosen
        raise Invalid(f"{show(value)} is not allowed; choose one of {', '.join(allowed)}")

    return check


def boolean(value: object) -> object:
    if isinstance(value, bool):
        return value
    raise Invalid(f"{show(value)} must be true or false")


def integer(low: int, high: int) -> Scalar:
    def check(value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        raise Invalid(f"{show(value)} must be an integer from {low} to {high}")

    return check


def seconds(*, zero_allowed: bool) -> Scalar:
    bound = "greater than or equal to 0" if zero_allowed else "greater than 0"

    def check(value: object) -> object:
        problem = Invalid(f"{show(value)} must be a number {bound}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise problem
        if math.isfinite(value) and (value > 0 or (zero_allowed and value == 0)):
            return float(value)
        raise problem

    return check


def port_number(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    raise Invalid(f"{show(value)} is not a port number (1-65535)")


def absolute_path(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "\0" not in value:
        return value
    raise Invalid(f"{show(value)} is not an absolute path")


def user_name(value: object) -> object:
    if isinstance(value, str) and (value == "" or (len(value) <= 32 and _USER.fullmatch(value))):
        return value
    raise Invalid(
        f"{show(value)} is not a user name (lower-case letters, digits, _ and -, at most 32;"
        ' "" keeps the starting user)'
    )


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


def interface_name(value: object) -> object:
    # The kernel's dev_valid_name(); glob characters are legal there, so globs pass too.
    if (
        isinstance(value, str)
        and 1 <= len(value.encode()) <= 15
        and value not in (".", "..")
        and not any(c in "/:\0" or c.isspace() for c in value)
    ):
        return value
    raise Invalid(f"{show(value)} is not an interface name")


def event_type(value: object) -> object:
    """A script directory's name (without ``.d``): the one vocabulary of netevd.core.directories."""
    if isinstance(value, str) and directory_for(value) is not None:
        return value
    names = ", ".join(d.value for d in Directory)
    raise Invalid(f"{show(value)} is not a script directory; choose one of {names}")


def condition(value: object) -> object:
    if not isinstance(value, str):
        raise Invalid(f"must be a condition string, got {show(value)}")
    try:
        parse_condition(value)
    except ConditionError as exc:
        raise Invalid(str(exc)) from None
    return value


def env_boolean(value: object) -> object:
    text = str(value).lower()
    if text in _ENV_TRUE or text in _ENV_FALSE:
        return text in _ENV_TRUE
    raise Invalid(f"{show(value)} must be true or false (or yes/no, on/off, 1/0)")


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
