"""A script file's verdict: whether it runs, and if not, why (what /api/v1/scripts shows)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScriptVerdict:
    """One file found in a script directory."""

    directory: str
    name: str
    path: str
    runs: bool
    reason: str  # "" when it runs
    tree: str = "netevd"  # whose scripts (netevd.core.trees.Tree): netevd's or a dispatcher's
