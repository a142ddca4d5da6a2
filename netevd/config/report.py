"""What reading one configuration found, and how values are shown in its messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Report:
    """What reading one configuration found: every error and warning, in the order met."""

    strict: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # current key path -> path as written

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{self.written(path)}: {message}")

    def written(self, path: str) -> str:
        base, bracket, rest = path.partition("[")
        legacy = self.aliases.get(base)
        return path if legacy is None else legacy + bracket + rest

    def unknown(self, path: str, known: Iterable[str]) -> None:
        parent, dot, key = path.rpartition(".")
        spellings = {name.lower(): name for name in known}
        close = difflib.get_close_matches(key.lower(), spellings, n=1)
        hint = f"; did you mean {parent}{dot}{spellings[close[0]]}?" if close else ""
        if self.strict:
            self.errors.append(f"unknown key {path}{hint}")
        else:
            self.warnings.append(f"unknown key {path} (ignored){hint}")


def show(value: object) -> str:
    """A value as the user wrote it in YAML, for messages; containers only by kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)
