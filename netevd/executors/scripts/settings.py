"""The script executor's settings: where scripts are found, how long they may run, how many
links run at once, and the quiet window of pending runs (built from the configuration by the
composition root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netevd.core.trees import Tree


@dataclass(frozen=True)
class ScriptSettings:
    script_dirs: tuple[str, ...]  # earlier directories shadow later ones by file name
    timeout: float = 30.0  # per script; then the whole process group is killed
    max_parallel: int = 8  # links whose scripts may run at the same time
    quiet_window: float = 0.2  # seconds of quiet before a pending run (PendingRun) is completed
    shutdown_grace: float = 10.0
    allowed_uids: frozenset[int] = frozenset({0})  # owners allowed besides root: the daemon's uid
    output_limit: int = 65536  # bytes of output kept (the tail) per script
    runtime_dir: str = ""  # where too-large values go by file ("" = the system's temp dir)
    # compat trees' base directories: (tree, directories), e.g. networkd-dispatcher's
    compat_dirs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    stdin_json: bool = False  # the event document also on each script's stdin

    def directories(self, tree: str, directory: str) -> list[Path]:
        """Where a run of *directory* for *tree* finds its scripts, earlier ones shadowing.

        netevd and networkd-dispatcher: ``<base>/<directory>.d``; NetworkManager-dispatcher:
        the base itself (``dispatcher.d``: its scripts get the action as ``$2``)."""
        bases = self.script_dirs if tree == Tree.NETEVD else dict(self.compat_dirs).get(tree, ())
        if tree == Tree.NM_DISPATCHER:
            return [Path(base) for base in bases]
        return [Path(base) / f"{directory}.d" for base in bases]
