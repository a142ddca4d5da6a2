"""Value checks of the configuration that are not about legacy forms: API secrets and paths,
policy-routing tables."""

from __future__ import annotations

import re
from typing import Final

from netevd.config_legacy import Invalid, absolute_path, interface_name, show

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
