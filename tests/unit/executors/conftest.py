"""Fixtures for the script executor tests: script trees in tmp_path, executors, FIFO gates."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netevd.core.actions import PendingRun, RunScripts
from netevd.core.directories import Directory
from netevd.core.events import Event, QuietWindowEnded, RunDropped, ScriptFinished
from netevd.executors.scripts import ScriptExecutor, ScriptSettings

UID = os.geteuid()
ALLOWED = frozenset({UID})


def process_gone(pid: int) -> bool:
    """True once *pid* no longer runs (a zombie awaiting an absent reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@dataclass
class Tree:
    """Script bases under tmp_path, each created 0755 whatever the umask."""

    root: Path
    bases: list[Path] = field(default_factory=list)

    def base(self, index: int = 0) -> Path:
        while len(self.bases) <= index:
            path = self.root / f"base{len(self.bases)}"
            path.mkdir(mode=0o755)
            path.chmod(0o755)
            self.bases.append(path)
        return self.bases[index]

    def script(
        self, directory: str, name: str, body: str, *, base: int = 0, mode: int = 0o755
    ) -> Path:
        ddir = self.base(base) / f"{directory}.d"
        if not ddir.exists():
            ddir.mkdir(mode=0o755)
            ddir.chmod(0o755)
        path = ddir / name
        path.write_text(body if body.startswith("#!") or not body else f"#!/bin/sh\n{body}\n")
        path.chmod(mode)
        return path

    def settings(self, **overrides: object) -> ScriptSettings:
        self.base()
        values: dict[str, object] = {
            "script_dirs": tuple(str(b) for b in self.bases),
            "allowed_uids": ALLOWED,
            "timeout": 5.0,
            "quiet_window": 0.05,
            "shutdown_grace": 2.0,
        }
        values.update(overrides)
        return ScriptSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    tmp_path.chmod(0o755)
    return Tree(tmp_path)


@dataclass
class Harness:
    reports: list[ScriptFinished | RunDropped] = field(default_factory=list)
    executors: list[ScriptExecutor] = field(default_factory=list)

    def executor(self, settings: ScriptSettings, **kwargs: object) -> ScriptExecutor:
        def emit(event: Event) -> None:
            if isinstance(event, QuietWindowEnded):
                # What the engine does when a quiet window ends: the run comes back complete.
                executor.submit(complete(event.run))
            elif isinstance(event, ScriptFinished | RunDropped):
                self.reports.append(event)

        executor = ScriptExecutor(settings, emit, **kwargs)  # type: ignore[arg-type]
        self.executors.append(executor)
        return executor

    @property
    def finished(self) -> list[ScriptFinished]:
        return [r for r in self.reports if isinstance(r, ScriptFinished)]

    @property
    def dropped(self) -> list[RunDropped]:
        return [r for r in self.reports if isinstance(r, RunDropped)]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    yield h
    for executor in h.executors:
        await executor.shutdown()


def run(
    directory: str = "routable",
    link: int = 2,
    seq: int = 1,
    *,
    name: str | None = None,
    env: dict[str, str] | None = None,
    pending: bool = False,
) -> RunScripts | PendingRun:
    link_name = name or f"eth{link}"
    full_env = {"LINK": link_name, "LINKINDEX": str(link), "NETEVD_SEQ": str(seq)}
    full_env.update(env or {})
    if pending:  # its env rides as the pending run's own values (see complete)
        values = tuple(full_env.items())
        return PendingRun(Directory(directory), link, link_name, "", seq, values=values)
    return RunScripts(
        directory=directory,
        link_index=link,
        link_name=link_name,
        env=tuple(full_env.items()),
        seq=seq,
    )


def complete(pending: PendingRun) -> RunScripts:
    """The run a pending one stands for, here simply with its own values as the environment."""
    return RunScripts(
        directory=pending.directory,
        link_index=pending.link_index,
        link_name=pending.link_name,
        env=pending.values,
        seq=pending.seq,
    )


@pytest.fixture
def make_run() -> Callable[..., RunScripts | PendingRun]:
    return run


class Gates:
    """Named FIFOs scripts block on (``read x < FIFO``) until the test writes a line.

    The test holds each FIFO open read-write, so opening never blocks either side and a line
    written before the script gets there waits in the pipe for it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._fds: dict[str, int] = {}

    def path(self, name: str) -> Path:
        path = self.root / f"gate-{name}"
        if name not in self._fds:
            os.mkfifo(path, 0o600)
            self._fds[name] = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        return path

    def release(self, name: str) -> None:
        self.path(name)
        os.write(self._fds[name], b"go\n")

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)


@pytest.fixture
def gates(tmp_path: Path) -> Iterator[Gates]:
    g = Gates(tmp_path)
    yield g
    g.close()


@pytest.fixture
def reap_pids() -> Iterator[list[int]]:
    """Pids a test expects gone; any survivor is killed so a failing test leaves nothing."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if not process_gone(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def gone() -> Callable[[int], bool]:
    return process_gone
