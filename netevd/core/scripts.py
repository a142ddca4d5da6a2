"""What the script executor and the core agree on (pure): the queue's rules and a file's verdict.

The script executor keeps one queue per link; :func:`enqueue` decides what goes in and what is
dropped, so the rules are one piece of code for the executor and for the scenario tests. A
:class:`ScriptVerdict` is what the executor found of a script file (what /api/v1/scripts shows).
Whose scripts a run is for is netevd.core.trees (below the configuration, which names them).
"""

from __future__ import annotations

from dataclasses import dataclass

from netevd.core.actions import RunScripts

Queue = tuple[RunScripts, ...]


def enqueue(queue: Queue, action: RunScripts) -> tuple[Queue, Queue]:
    """(new queue, superseded runs): a newer run for the same directory of the same script tree
    replaces any queued, not-yet-started one of that link (the obsolete state would only run
    late and wrong). Trees are kept apart: a compat run never supersedes netevd's own."""
    key = (action.tree, action.directory)
    dropped = tuple(run for run in queue if (run.tree, run.directory) == key)
    kept = tuple(run for run in queue if (run.tree, run.directory) != key)
    return (*kept, action), dropped


@dataclass(frozen=True, slots=True)
class ScriptVerdict:
    """One file found in a script directory."""

    directory: str
    name: str
    path: str
    runs: bool
    reason: str  # "" when it runs
    tree: str = "netevd"  # whose scripts (netevd.core.trees.Tree): netevd's or a dispatcher's
