"""Running the real ``netevd`` process in a lab namespace, and scripts that record what they saw.

A recorder script writes its whole environment (``env -0``) to one file per run, named so that
the order of runs can be read back; tests then wait on those files with a deadline.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.process import ManagedProcess
from lab.wait import wait_until

RECORDER = """#!/bin/sh
# netevd lab recorder: keeps the environment of every run, in order.
n=$(date +%s%N)
f="{out}/$n-$$"
env -0 > "$f.tmp" && mv "$f.tmp" "$f.env"
{extra}
"""


@dataclass(frozen=True)
class Run:
    """One recorded script run."""

    script: str
    env: dict[str, str]

    @property
    def state(self) -> str:
        return self.env.get("STATE", "")

    @property
    def link(self) -> str:
        return self.env.get("LINK", "")


class ScriptDirs:
    """A script tree (``<root>/<state>.d/<name>``) with recorder scripts; root-owned, 0755."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.out = root.parent / (root.name + "-runs")
        self.root.mkdir(parents=True, exist_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.out.chmod(0o777)

    def add(self, state: str, name: str = "50-record", extra: str = "", mode: int = 0o755) -> Path:
        """A recorder in ``<state>.d``; *extra* is shell appended after the recording."""
        directory = self.root / f"{state}.d"
        directory.mkdir(exist_ok=True)
        directory.chmod(0o755)
        path = directory / name
        path.write_text(RECORDER.format(out=self.out, extra=extra))
        path.chmod(mode)
        return path

    def add_raw(self, state: str, name: str, text: str, mode: int = 0o755) -> Path:
        directory = self.root / f"{state}.d"
        directory.mkdir(exist_ok=True)
        directory.chmod(0o755)
        path = directory / name
        path.write_text(text)
        path.chmod(mode)
        return path

    def runs(self) -> list[Run]:
        found = []
        for path in sorted(self.out.glob("*.env"), key=lambda p: int(p.name.split("-")[0])):
            items = path.read_bytes().split(b"\0")
            env = dict(i.decode(errors="replace").split("=", 1) for i in items if b"=" in i)
            found.append(Run(script=path.name, env=env))
        return found

    def matching(self, **want: str) -> list[Run]:
        return [r for r in self.runs() if all(r.env.get(k) == v for k, v in want.items())]

    async def wait_for(self, count: int = 1, timeout: float = 15.0, **want: str) -> list[Run]:
        """Wait until at least *count* runs match *want* (env values); returns them."""

        def enough() -> list[Run] | None:
            runs = self.matching(**want)
            return runs if len(runs) >= count else None

        desc = " ".join(f"{k}={v}" for k, v in want.items())
        found = await wait_until(enough, timeout, message=f"{count} run(s) with {desc}")
        return found or []

    def clear(self) -> None:
        for path in self.out.glob("*"):
            path.unlink()


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


def netevd_config(dirs: ScriptDirs, **sections: Mapping[str, Any]) -> dict[str, Any]:
    """A config for tests: kernel-only, scripts from *scripts*, no privilege drop, no API."""
    config: dict[str, Any] = {
        "system": {
            "backend": "none",
            "script_dirs": [str(dirs.root)],
            "user": "",
            "log_level": "debug",
        },
        "scripts": {"timeout": 10, "routes_debounce_ms": 200},
        "monitoring": {"exclude": ["lo"]},
        "api": {"enabled": False},
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config


class NetevdProcess(ManagedProcess):
    """``python -m netevd run -c CONFIG`` inside namespace *netns*."""

    def __init__(
        self,
        netns: str,
        config: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: Iterable[str] = (),
    ) -> None:
        base = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
        super().__init__(
            [sys.executable, "-m", "netevd", "run", "-c", str(config), *args],
            netns=netns,
            env={**base, **(env or {})},
            name=f"netevd[{netns}]",
        )

    async def wait_ready(self, timeout: float = 20.0) -> None:
        await self.wait_for_log(r"\bready\b", timeout)

    async def wait_for_count(self, pattern: str, count: int, timeout: float = 15.0) -> None:
        """Wait until at least *count* output lines match *pattern*."""
        regex = re.compile(pattern)

        def seen() -> bool:
            return sum(1 for _, line in self.lines if regex.search(line)) >= count

        await wait_until(seen, timeout, message=f"{count} log lines matching {pattern!r}")
