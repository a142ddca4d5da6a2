"""pytest plugin: fixtures ``lab``, ``netevd``, ``netns``, ``private_bus``, ``wait_until`` and
the markers.

Tests marked ``root`` (every test under an ``integration`` directory is marked automatically)
are skipped with a reason when not run as root. Everything a fixture creates carries a fresh
per-test prefix and is removed at teardown, even when the test failed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.daemons.bus import PrivateBus
from lab.net.build import Lab
from lab.net.naming import new_prefix
from lab.net.netns import create_netns, remove_netns
from lab.net.topology import Topology
from lab.netevd import Daemon, ScriptDirs, running_netevd
from lab.wait import wait_until as _wait_until

MARKERS = {
    "root": "needs root (skipped with a reason otherwise)",
    "netns": "creates network namespaces",
    "dbus": "starts a private dbus-daemon",
    "slow": "takes more than a few seconds",
}

LabFactory = Callable[..., Awaitable[Lab]]
NetevdFactory = Callable[..., Awaitable[Daemon]]


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in Path(str(item.path)).parts:
            item.add_marker(pytest.mark.root)
            item.add_marker(pytest.mark.netns)
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root: creates network namespaces and links")
    for item in items:
        if item.get_closest_marker("root"):
            item.add_marker(skip)


@pytest.fixture
def lab_prefix() -> str:
    """A fresh prefix for this test's namespaces and links."""
    return new_prefix()


@pytest.fixture
async def lab(lab_prefix: str) -> AsyncIterator[LabFactory]:
    """``built = await lab(topology)``: built now, torn down after the test whatever happened."""
    built: list[Lab] = []

    async def factory(topology: Topology, prefix: str | None = None) -> Lab:
        instance = Lab(topology, prefix=prefix or (lab_prefix if not built else None))
        built.append(instance)
        await instance.build()
        return instance

    yield factory
    for instance in reversed(built):
        await instance.teardown()


@pytest.fixture
async def netevd(lab: LabFactory, tmp_path: Path) -> AsyncIterator[NetevdFactory]:
    """``daemon = await netevd(built, scripts, api=True, **sections)``: the real netevd, READY.

    Keywords: ``ns`` (logical namespace, default ``host``), ``workdir`` (where the config is
    written, default the test's tmp_path) and everything :func:`lab.netevd.running_netevd`
    takes (``api``, ``env``, ``args``, ``ready_timeout``, configuration sections). Every daemon
    it started is stopped (and its API client closed) at teardown, even when the test failed,
    and before the lab's namespaces go (this fixture depends on ``lab``).
    """
    async with contextlib.AsyncExitStack() as stack:

        async def factory(
            built: Lab,
            scripts: ScriptDirs | Path,
            /,
            *,
            ns: str = "host",
            workdir: Path | None = None,
            **kw: Any,
        ) -> Daemon:
            running = running_netevd(built, ns, workdir or tmp_path, scripts, **kw)
            return await stack.enter_async_context(running)

        yield factory


@pytest.fixture
def netns(lab_prefix: str) -> Iterator[str]:
    """One bare namespace (loopback down, nothing else); yields its real name."""
    name = f"{lab_prefix}ns"
    create_netns(name)
    try:
        yield name
    finally:
        remove_netns(name)


@pytest.fixture
async def private_bus(tmp_path: Path) -> AsyncIterator[PrivateBus]:
    async with PrivateBus(tmp_path / "bus") as bus:
        yield bus


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[object]]:
    return _wait_until
