"""Stamp scripts: a ``*.d`` script that appends when it started and what fired it to a log,
and the reader of that log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

# The run's own start time comes first. $EPOCHREALTIME is a bash builtin (no fork), exactly as in
# the anchor study's ts.sh; "date" takes it with `date +%s.%N` (a fork and exec of date) instead.
STAMP_SCRIPT = """#!/bin/bash
# netevd bench stamp: when this run started, then what fired it.
{clock}
rc=-
[[ ${{NETEVD_JSON:-}} =~ \\"route_count\\":([0-9]+) ]] && rc=${{BASH_REMATCH[1]}}
printf '%s %s %s %s %s %s\\n' "$t" "${{STATE:--}}" "${{LINK:--}}" "${{NETEVD_SEQ:--}}" \\
  "${{EVENT:--}}" "$rc" >> {log}
"""
CLOCKS = {"bash": "t=$EPOCHREALTIME", "date": "t=$(date +%s.%N)"}


def stamp_script(log: Path, clock: str = "bash") -> str:
    return STAMP_SCRIPT.format(clock=CLOCKS[clock], log=log)


@dataclass(frozen=True)
class Stamp:
    """One script run as the stamp script recorded it."""

    t: float  # CLOCK_REALTIME seconds when the script started
    state: str
    link: str
    seq: int | None
    event: str
    route_count: int | None


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


class StampLog:
    """The stamp scripts' log, read incrementally (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[Stamp] = []
        self._offset = 0
        self._partial = b""

    def poll(self) -> int:
        """Read what was appended; returns how many records there are now."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return len(self.records)
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            parts = raw.decode(errors="replace").split(" ")
            if len(parts) != 6:
                continue
            t, state, link, seq, event, rc = parts
            self.records.append(
                Stamp(float(t), state, link, _int_or_none(seq), event, _int_or_none(rc))
            )
        return len(self.records)

    def matching(self, start: int = 0, **want: object) -> list[Stamp]:
        self.poll()
        return [r for r in self.records[start:] if all(getattr(r, k) == v for k, v in want.items())]

    def finder(self, start: int, **want: object) -> Callable[[], Awaitable[Stamp | None]]:
        """A predicate for until(): the first record from *start* on that matches *want*."""

        async def first() -> Stamp | None:
            found = self.matching(start, **want)
            return found[0] if found else None

        return first
