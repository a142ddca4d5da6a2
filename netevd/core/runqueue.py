"""The script queue's rules (pure): what a newer run supersedes, what a quiet window keeps.

The script executor keeps one queue per link; these functions decide what goes in and what is
dropped, so the rules are one piece of code for the executor and for the scenario tests.
"""

from __future__ import annotations

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
