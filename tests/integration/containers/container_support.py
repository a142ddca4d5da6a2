"""Shared by the container tests: a recorder script that writes its evidence before it
publishes its environment, so a test that sees the ``.env`` file can read the rest at once."""

from __future__ import annotations

from lab.netevd import ScriptDirs

RECORDER = """#!/bin/sh
# netevd container test recorder: evidence first, then the environment (env -0) published.
f="{out}/$(date +%s%N)-$$"
{evidence}
env -0 > "$f.part" && mv "$f.part" "$f.env"
"""


def add_recorder(scripts: ScriptDirs, state: str, evidence: str, out: str | None = None) -> None:
    """A recorder in ``<state>.d/50-record``; *out* is the runs directory as the script sees
    it (inside a container it may be mounted elsewhere than ``scripts.out``)."""
    text = RECORDER.format(out=out or scripts.out, evidence=evidence.strip())
    scripts.add_raw(state, "50-record", text)


def evidence(scripts: ScriptDirs, run_file: str, kind: str) -> str:
    """What a run wrote next to its environment (``<run>.<kind>``)."""
    return (scripts.out / run_file.replace(".env", f".{kind}")).read_text()
