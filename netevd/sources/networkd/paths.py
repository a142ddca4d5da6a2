"""D-Bus object paths of org.freedesktop.network1 and their ifindexes (pure).

networkd names a link's object ``/org/freedesktop/network1/link/<label>`` where the label is the
decimal ifindex escaped the way sd-bus escapes path labels (``sd_bus_path_encode``): every byte
that is not an ASCII letter, and a digit in the first position, becomes ``_`` and two lowercase
hex digits; the empty string is ``_``. So ifindex 2 is ``_32`` and ifindex 12 is ``_312``.

sd-bus itself is lenient when unescaping (a broken escape is taken literally). A path from the
bus is input from outside, so here a broken escape is an error, and an ifindex label must be the
canonical encoding: two paths never name the same link.
"""

from __future__ import annotations

import re

NETWORK1_PATH = "/org/freedesktop/network1"
LINK_PATH_PREFIX = NETWORK1_PATH + "/link/"
MAX_IFINDEX = 2**31 - 1  # the kernel's ifindex is a positive int
_HEX = "0123456789abcdef"
_LABEL_RE = re.compile(r"[A-Za-z0-9_]+")
_IFINDEX_RE = re.compile(r"[1-9][0-9]{0,9}")


class PathError(ValueError):
    """An object path that is not a valid, canonical networkd link path."""


def escape_label(value: str) -> str:
    """``sd_bus_path_encode``'s label escaping of *value* (UTF-8 bytes)."""
    if not value:
        return "_"
    out: list[str] = []
    for position, byte in enumerate(value.encode()):
        char = chr(byte)
        if (char.isascii() and char.isalpha()) or (position > 0 and "0" <= char <= "9"):
            out.append(char)
        else:
            out.append("_" + _HEX[byte >> 4] + _HEX[byte & 0xF])
    return "".join(out)


def unescape_label(label: str) -> str:
    """The string *label* encodes; PathError for any character or escape sd-bus would not emit."""
    if label == "_":
        return ""
    if not _LABEL_RE.fullmatch(label):
        raise PathError(f"label {label!r} has characters outside A-Z a-z 0-9 _")
    raw = bytearray()
    i = 0
    while i < len(label):
        char = label[i]
        if char != "_":
            raw.append(ord(char))
            i += 1
            continue
        pair = label[i + 1 : i + 3]
        if len(pair) != 2 or not all(c in _HEX for c in pair.lower()):
            raise PathError(f"label {label!r} has a broken escape at offset {i}")
        byte = int(pair, 16)
        if byte == 0:
            raise PathError(f"label {label!r} encodes a NUL byte")
        raw.append(byte)
        i += 3
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise PathError(f"label {label!r} is not UTF-8 once unescaped") from None


def link_path(index: int) -> str:
    """The object path networkd gives link *index*."""
    if not 0 < index <= MAX_IFINDEX:
        raise PathError(f"{index} is not an ifindex")
    return LINK_PATH_PREFIX + escape_label(str(index))


def is_link_path(path: str) -> bool:
    """Whether *path* is directly below networkd's link namespace (valid or not)."""
    return path.startswith(LINK_PATH_PREFIX) and "/" not in path[len(LINK_PATH_PREFIX) :]


def ifindex_from_link_path(path: str) -> int:
    """The ifindex in ``/org/freedesktop/network1/link/<label>``; PathError for anything else."""
    if not is_link_path(path):
        raise PathError(f"{path!r} is not a networkd link path")
    label = path[len(LINK_PATH_PREFIX) :]
    text = unescape_label(label)
    if not _IFINDEX_RE.fullmatch(text) or int(text) > MAX_IFINDEX:
        raise PathError(f"{path!r} does not name an ifindex (label decodes to {text!r})")
    if escape_label(text) != label:
        raise PathError(f"{path!r} is not the canonical encoding of ifindex {text}")
    return int(text)
