"""Checks for the values a lease file carries (pure). Each returns the clean value or raises
:class:`RejectedValue` with the reason; :mod:`netevd.core.dhcp.lease` turns that into a
reported problem.

A lease file is network input written down by dhclient: the DHCP server chose the host name,
the domains and the addresses, and the interface name can hold ``$``, ``;`` and quotes.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from netevd.core.dhcp.syntax import Token
from netevd.core.environment import NAME_CHARACTER, kernel_name_problem, link_name_problem

MAX_TIME = 2**63 - 1
INFINITE_LIFETIME = 0xFFFFFFFF  # DHCPv6: a lifetime that never runs out
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_CLOCK = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})")
_PREFIX = re.compile(r"[0-9A-Fa-f:.]+/\d{1,3}")
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class RejectedValue(Exception):
    """A value that must not be believed (the reason is the message)."""


def interface_name(name: str) -> str:
    """A name Linux would accept that is also safe to hand to scripts (netevd's rule)."""
    kernel = kernel_name_problem(name)
    if kernel == NAME_CHARACTER:
        raise RejectedValue(f"interface name {name!r} has a character Linux refuses")
    if kernel:
        raise RejectedValue(f"interface name {name!r} is not a Linux interface name (1-15 bytes)")
    if problem := link_name_problem(name):
        raise RejectedValue(f"interface name {name!r}: {problem}")
    return name


def dns_name(text: str, *, host: bool = False) -> str:
    """A DNS name (one trailing dot dropped); *host* names are letters, digits, hyphens only."""
    name = text[:-1] if text.endswith(".") else text
    label = _HOST_LABEL if host else _DOMAIN_LABEL
    kind = "host name" if host else "domain name"
    if not name or len(name) > 253:
        raise RejectedValue(f"{kind} {text!r} is empty or longer than 253 characters")
    if not all(label.fullmatch(part) for part in name.split(".")):
        raise RejectedValue(f"{kind} {text!r} is not a valid DNS name")
    return name


def ip(text: str, family: int) -> str:
    if "%" in text:  # a scope (fe80::1%eth0): dhclient never writes one, and it is free text
        raise RejectedValue(f"{text!r} carries a scope")
    try:
        value = ipaddress.ip_address(text)
    except ValueError:
        raise RejectedValue(f"{text!r} is not an IP address") from None
    if value.version != family:
        raise RejectedValue(f"{text!r} is not an IPv{family} address")
    return str(value)


def netmask(text: str) -> tuple[str, int]:
    """An IPv4 netmask and its prefix length."""
    mask = ip(text, 4)
    try:
        prefixlen = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        raise RejectedValue(f"{text!r} is not a netmask") from None
    return mask, prefixlen


def prefix(text: str) -> str:
    """A delegated IPv6 prefix, ``fd00:1::/56``."""
    if not _PREFIX.fullmatch(text):
        raise RejectedValue(f"{text!r} is not an IPv6 prefix")
    try:
        network = ipaddress.IPv6Network(text, strict=True)
    except ValueError:
        raise RejectedValue(f"{text!r} is not an IPv6 prefix") from None
    return str(network)


def number(text: str, *, low: int = 0, high: int = MAX_TIME) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise RejectedValue(f"{text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise RejectedValue(f"{value} is outside {low}..{high}")
    return value


def when(words: Sequence[Token]) -> int | None:
    """A lease time: ``W YYYY/MM/DD HH:MM:SS`` (UTC), ``epoch N`` or ``never`` (None)."""
    texts = [w.text if w.kind == "word" else "\x00" for w in words]
    if texts == ["never"]:
        return None
    if len(texts) == 2 and texts[0] == "epoch":
        return number(texts[1])
    if len(texts) == 3 and texts[0] in "0123456" and len(texts[0]) == 1:
        date, clock = _DATE.fullmatch(texts[1]), _CLOCK.fullmatch(texts[2])
        if date and clock:
            year, month, day = (int(g) for g in date.groups())
            hour, minute, second = (int(g) for g in clock.groups())
            if _valid_date(year, month, day) and hour < 24 and minute < 60 and second < 61:
                return _days(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    raise RejectedValue(f"{' '.join(texts)!r} is not a lease time")


def _valid_date(year: int, month: int, day: int) -> bool:
    if not (1970 <= year <= 9999 and 1 <= month <= 12):
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    length = 29 if month == 2 and leap else _MONTH_DAYS[month - 1]
    return 1 <= day <= length


def _days(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def items(words: Sequence[Token]) -> list[Token]:
    """Comma-separated single-token values: ``a,b`` / ``"a.", "b."``; anything else rejected."""
    values: list[Token] = []
    expect_value = True
    for word in words:
        is_comma = word.kind == "punct"
        if is_comma == expect_value:
            raise RejectedValue("values must be separated by single commas")
        if not is_comma:
            values.append(word)
        expect_value = is_comma
    if expect_value:
        raise RejectedValue("a value list ends with a comma or is empty")
    return values


def single(words: Sequence[Token], kind: str) -> str:
    if len(words) != 1 or words[0].kind != kind:
        raise RejectedValue(f"expected one {kind}")
    return words[0].text
