"""Supervision in-process: restart with backoff, give up, fatal critical tasks, the fault hook."""

import asyncio

import pytest

from netevd.core.events import SourceStatus
from netevd.errors import UsageError
from netevd.faults import FAULT_ENV, InjectedFault, wrap_sources
from netevd.supervisor import RestartPolicy, Supervisor
from netevd.telemetry.metrics import Metrics

FAST = RestartPolicy(first_delay=0.001, max_delay=0.004, max_failures=3, healthy_after=30.0)


class World:
    def __init__(self, policy: RestartPolicy = FAST) -> None:
        self.reports: list[SourceStatus] = []
        self.fatal = asyncio.Event()
        self.metrics = Metrics()
        self.supervisor = Supervisor(
            self.reports.append, self.metrics, on_fatal=self.fatal.set, policy=policy
        )

    def restarts(self, name: str) -> float:
        return self.metrics.source_restarts.labels(name)._value.get()


async def test_a_crashing_source_is_restarted_reported_and_counted():
    world = World()
    runs = 0
    healthy = asyncio.Event()

    async def source() -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError(f"boom {runs}")
        healthy.set()
        await asyncio.Event().wait()  # a healthy source never returns

    world.supervisor.start_source("netlink", source)
    exported = {
        s.labels["source"]
        for m in world.metrics.registry.collect()
        for s in m.samples
        if s.name == "netevd_source_restarts_total"
    }
    assert exported == {"netlink"}  # at 0 from the start: increase() sees the first restart
    await asyncio.wait_for(healthy.wait(), 5)
    assert runs == 3
    assert [r.up for r in world.reports] == [False, False]
    assert world.reports[0].detail.startswith("crashed: RuntimeError: boom 1; restart in")
    assert world.restarts("netlink") == 2
    assert world.supervisor.failed is None
    await world.supervisor.stop()


async def test_a_source_that_returns_counts_as_failed():
    world = World()
    calls = 0
    again = asyncio.Event()

    async def source() -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            again.set()
            await asyncio.Event().wait()

    world.supervisor.start_source("x", source)
    await asyncio.wait_for(again.wait(), 5)
    assert world.reports[0].detail.startswith("crashed: returned;")
    await world.supervisor.stop()


async def test_a_source_that_cannot_come_back_is_given_up_and_fatal():
    world = World()

    async def source() -> None:
        raise OSError("no such device")

    world.supervisor.start_source("networkd", source)
    await asyncio.wait_for(world.fatal.wait(), 5)
    assert world.supervisor.failed is not None
    assert "source networkd gave up after 4 failures in a row" in world.supervisor.failed
    assert world.reports[-1] == SourceStatus(
        "networkd", False, "gave up after 4 failures in a row: OSError: no such device"
    )
    assert world.restarts("networkd") == 3
    await world.supervisor.stop()


async def test_a_long_healthy_run_starts_the_count_afresh():
    clock = iter(range(0, 10_000, 40))  # every run "lasts" 40 s > healthy_after
    world = World()
    world.supervisor._clock = lambda: float(next(clock))
    runs = 0
    settled = asyncio.Event()

    async def source() -> None:
        nonlocal runs
        runs += 1
        if runs < 8:
            raise RuntimeError("flaky")
        settled.set()
        await asyncio.Event().wait()

    world.supervisor.start_source("flaky", source)
    await asyncio.wait_for(settled.wait(), 5)
    assert not world.fatal.is_set()
    await world.supervisor.stop()


async def test_a_critical_task_that_ends_is_fatal_and_stop_cancels_the_rest():
    world = World()
    waiting = world.supervisor.spawn(asyncio.Event().wait(), "worker")
    world.supervisor.spawn(asyncio.sleep(0), "engine", critical=True)
    await asyncio.wait_for(world.fatal.wait(), 5)
    assert world.supervisor.failed.startswith("engine ended unexpectedly")
    await world.supervisor.stop()
    assert waiting.cancelled()


async def test_the_fault_hook_crashes_on_signal_and_holds_the_restart():
    starts: asyncio.Queue[int] = asyncio.Queue()

    async def source() -> None:
        starts.put_nowait(1)
        await asyncio.Event().wait()

    sources, faulty = wrap_sources({"netlink": source}, {FAULT_ENV: "netlink"})
    assert faulty is not None
    first = asyncio.ensure_future(sources["netlink"]())
    await asyncio.wait_for(starts.get(), 5)
    faulty.trigger()
    with pytest.raises(InjectedFault):
        await first
    second = asyncio.ensure_future(sources["netlink"]())
    for _ in range(10):  # let every ready task run: the held restart must not start
        await asyncio.sleep(0)
    assert starts.empty()
    assert not second.done()
    faulty.trigger()
    await asyncio.wait_for(starts.get(), 5)
    second.cancel()


async def test_the_fault_hook_always_mode_fails_every_restart():
    async def source() -> None:
        await asyncio.Event().wait()

    sources, faulty = wrap_sources({"netlink": source}, {FAULT_ENV: "netlink:always"})
    first = asyncio.ensure_future(sources["netlink"]())
    await asyncio.sleep(0)
    faulty.trigger()
    with pytest.raises(InjectedFault):
        await first
    with pytest.raises(InjectedFault, match="always"):
        await sources["netlink"]()


def test_the_fault_hook_is_off_without_the_variable_and_refuses_unknown_sources():
    sources = {"netlink": lambda: asyncio.sleep(0)}
    assert wrap_sources(sources, {}) == (sources, None)
    with pytest.raises(UsageError, match="where SOURCE is one of netlink"):
        wrap_sources(sources, {FAULT_ENV: "networkd"})
    with pytest.raises(UsageError):
        wrap_sources(sources, {FAULT_ENV: "netlink:sometimes"})
