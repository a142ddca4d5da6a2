"""A NetworkManager-dispatcher script directory (``dispatcher.d``) with scripts that record.

NetworkManager-dispatcher(8): the scripts are the files of ``dispatcher.d`` itself, each started
with the interface as ``$1`` and the action as ``$2``; a symlink into ``no-wait.d`` runs without
waiting for the others; ``pre-up.d`` and ``pre-down.d`` hold the scripts NetworkManager waits
for. :class:`DispatcherDir` builds such a directory (root-owned, 0755, as nm-dispatcher and
netevd both require) with recorders that keep every run's arguments and environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.wait import wait_until

# Written the way NetworkManager-dispatcher(8) describes its scripts: "$1" the interface,
# "$2" the action, a case on the action; and, as such scripts often do, it names itself with
# basename "$0" and sources a sibling file found through dirname "$0". It keeps what it saw:
# its environment (SELF and FROM_LIBRARY among it) and its arguments, one pair of files per
# run, named so the order of runs can be read back.
RECORDER = """#!/bin/sh
interface="$1"
action="$2"
SELF=$(basename "$0"); export SELF
. "$(dirname "$0")/{library}"
{before}
case "$action" in
    up|down|dhcp4-change|dhcp6-change|connectivity-change|hostname|pre-up|pre-down|vpn-up|vpn-down)
        n=$(date +%s%N)
        f="{out}/$n-$$"
        env -0 > "$f.tmp"
        printf '%s\\0' "$interface" "$action" > "$f.args"
        mv "$f.tmp" "$f.env"
        ;;
esac
"""

LIBRARY = "common.sh"  # in dispatcher.d, beside the scripts that source it
LIBRARY_SAYS = "sourced-beside-the-script"


@dataclass(frozen=True)
class DispatchedRun:
    args: list[str]
    env: dict[str, str]
    script: str  # the recorder's name, from NETEVD_SCRIPT or the RECORDED_BY variable

    @property
    def action(self) -> str:
        return self.args[1] if len(self.args) > 1 else ""


class DispatcherDir:
    """``root`` is a dispatcher.d; runs are recorded under ``root``'s sibling ``-runs``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.out = root.parent / (root.name + "-runs")
        for directory in (root.parent, root):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)
        self.out.mkdir(parents=True, exist_ok=True)
        self.out.chmod(0o777)
        # Not executable: a library the scripts source, skipped (with a warning) as a script
        # by nm-dispatcher and by netevd alike.
        library = root / LIBRARY
        library.write_text(f"FROM_LIBRARY={LIBRARY_SAYS}; export FROM_LIBRARY\n")
        library.chmod(0o644)
        self.library = library

    def _write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(mode=0o755, exist_ok=True)
        path.parent.chmod(0o755)
        path.write_text(text)
        path.chmod(0o755)
        return path

    def add(self, name: str, before: str = "") -> Path:
        """A recorder ``dispatcher.d/NAME``; *before* is shell run first (``$1``, ``$2`` set)."""
        before = f"RECORDED_BY={name}; export RECORDED_BY\n{before}"
        text = RECORDER.format(out=self.out, library=LIBRARY, before=before)
        return self._write(self.root / name, text)

    def add_no_wait(self, name: str, before: str = "") -> Path:
        """A recorder in ``no-wait.d``, linked from ``dispatcher.d`` (the man page's way)."""
        before = f"RECORDED_BY={name}; export RECORDED_BY\n{before}"
        text = RECORDER.format(out=self.out, library=LIBRARY, before=before)
        self._write(self.root / "no-wait.d" / name, text)
        link = self.root / name
        link.symlink_to(f"no-wait.d/{name}")
        return link

    def add_blocking(self, kind: str, name: str) -> Path:
        """A recorder in ``pre-up.d`` or ``pre-down.d`` (*kind*)."""
        text = RECORDER.format(
            out=self.out, library=f"../{LIBRARY}", before=f"RECORDED_BY={name}; export RECORDED_BY"
        )
        return self._write(self.root / f"{kind}.d" / name, text)

    def runs(self) -> list[DispatchedRun]:
        found = []
        for path in sorted(self.out.glob("*.env"), key=lambda p: int(p.name.split("-")[0])):
            items = path.read_bytes().split(b"\0")
            env = dict(i.decode(errors="replace").split("=", 1) for i in items if b"=" in i)
            raw = path.with_suffix(".args").read_bytes().split(b"\0")[:-1]
            args = [a.decode(errors="replace") for a in raw]
            found.append(DispatchedRun(args, env, env.get("RECORDED_BY", "")))
        return found

    async def wait_for(
        self, action: str, count: int = 1, timeout: float = 20.0
    ) -> list[DispatchedRun]:
        """Wait until *count* runs of *action* are recorded; returns them."""

        def enough() -> list[DispatchedRun] | None:
            runs = [r for r in self.runs() if r.action == action]
            return runs if len(runs) >= count else None

        found = await wait_until(enough, timeout, message=f"{count} {action} run(s) in {self.root}")
        return found or []
