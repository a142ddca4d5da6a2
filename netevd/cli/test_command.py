"""``netevd test SCRIPT --interface X --state S``: run one script with the environment a real
event on X would give now (the kernel's current picture of X), and show both."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from pyroute2 import AsyncIPRoute

from netevd.core.config import Config
from netevd.core.directories import Directory, directory_for
from netevd.core.environment import link_name_problem
from netevd.core.events import KERNEL, Context
from netevd.core.reactions import script_run
from netevd.core.state import State, apply_all, expand_snapshot
from netevd.core.views import LinkView, view
from netevd.errors import RuntimeFailure, UsageError
from netevd.executors.scripts import run_script, script_environment
from netevd.kernel.dump import dump


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


async def current_state() -> State:
    async with AsyncIPRoute(flags=0) as ipr:
        snapshot = await dump(ipr)
    state = State()
    return apply_all(state, expand_snapshot(state, snapshot))


def _link_view(state: State, interface: str) -> LinkView:
    link = state.link_by_name(interface)
    if link is None:
        raise RuntimeFailure(f"no interface named {interface!r} in this network namespace")
    if problem := link_name_problem(link.name):
        raise RuntimeFailure(f"{interface!r}: {problem}; netevd runs no scripts for it")
    current = view(state, link.index)
    if current is None:
        raise RuntimeFailure(f"interface {interface!r} vanished")
    return current


async def run_test(
    script: str,
    interface: str,
    state_name: str,
    event: str | None,
    config: Config,
    env: Mapping[str, str],
) -> int:
    directory = directory_for(state_name)
    if directory is None:
        choices = ", ".join(d.value for d in Directory)
        raise UsageError(
            f"--state {state_name!r} is not a script directory; choose one of {choices}"
        )
    path = Path(script)
    if not await asyncio.to_thread(_executable, path):
        raise UsageError(f"{script}: not an executable file")
    state = await current_state()
    current = _link_view(state, interface)
    kind = event or ("new" if directory is Directory.ROUTES else "link")
    action = script_run(current, directory, KERNEL, Context(seq=0, ts=time.time()), kind, state)
    full_env = script_environment(action.env_dict(), env)
    print("# environment")
    for name in sorted(full_env):
        print(f"{name}={full_env[name]}")
    for name, reason in action.dropped:
        print(f"# dropped {name}: {reason}")
    print(f"# running {path}")
    sys.stdout.flush()
    result = await run_script(path, full_env, config.scripts.timeout, 65536)
    print(result.output, end="" if result.output.endswith("\n") or not result.output else "\n")
    status = "timed out" if result.timed_out else (result.error or f"exit code {result.exit_code}")
    print(f"# {status} after {result.duration:.3f}s")
    return 0 if result.exit_code == 0 else 1
