"""key=value log formatting that a hostile value cannot forge.

Interface names, script names and script output come from outside; a newline or a quote in
them must not start a fake log line or a fake field, so such values are quoted and escaped.
"""

from __future__ import annotations

import logging

# A kind of rejected input a peer can send again and again: the first ten are warnings, then one
# in LOG_EVERY (the rest at debug level); every one of them is counted where it is rejected.
LOG_EVERY = 100
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+,~")
# Free-text fields are always quoted so readers (and grep) never have to guess where they end.
_ALWAYS_QUOTED = frozenset({"reason", "error"})


def escape(text: str) -> str:
    """Backslash-escape quotes, backslashes and anything non-printable."""
    out: list[str] = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def quote(text: str) -> str:
    return f'"{escape(text)}"'


def value(item: object) -> str:
    """Bare when unambiguous, quoted otherwise (empty, spaces, quotes, control characters)."""
    text = str(item)
    if text and all(char in _SAFE for char in text):
        return text
    return quote(text)


def kv(event: str, /, **fields: object) -> str:
    """``event key=value ...``; values are quoted when they need to be (reason/error always)."""
    parts = [event]
    for key, item in fields.items():
        parts.append(f"{key}={quote(str(item)) if key in _ALWAYS_QUOTED else value(item)}")
    return " ".join(parts)


def repeat_level(count: int) -> int:
    """The level of the *count*-th log line of one kind of rejected input (see LOG_EVERY)."""
    return logging.WARNING if count <= 10 or count % LOG_EVERY == 0 else logging.DEBUG
