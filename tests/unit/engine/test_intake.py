"""The engine's intake: a storm's link goes on in the bulk lane while other links' events pass
it; one link's events keep their order; an event that may reach every link is a barrier; and
sources wait while the backlog is too long."""

import asyncio

import pytest

from netevd.core.events import (
    KernelSnapshot,
    LinkChanged,
    RouteAdded,
    ScriptFinished,
    SourceStatus,
)
from netevd.core.model import Link, Route
from netevd.engine.intake import PROMPT_PER_LINK, Intake


def route(n: int, oif: int = 10) -> RouteAdded:
    return RouteAdded(Route(2, 254, f"10.{n // 250}.{n % 250}.0/24", "10.0.0.1", oif))


def carrier(index: int, up: bool) -> LinkChanged:
    return LinkChanged(Link(index, f"eth{index}", 0x10001 if up else 0x1))


async def drain(intake: Intake, limit: int = 64) -> list:
    taken = []
    while len(intake):
        taken += await intake.take(limit)
    return taken


async def test_another_links_change_passes_a_storm_and_each_link_keeps_its_order():
    intake = Intake()
    storm = [route(n) for n in range(1000)]
    for event in storm[:500]:
        intake.put(event)
    intake.put(carrier(12, False))
    for event in storm[500:]:
        intake.put(event)
    intake.put(carrier(12, True))
    taken = await drain(intake)
    assert len(taken) == 1002
    on_12 = [e for e in taken if isinstance(e, LinkChanged)]
    assert [e.link.carrier for e in on_12] == [False, True]
    assert [e for e in taken if isinstance(e, RouteAdded)] == storm  # the storm, in order
    # Both changes of eth12 come before the storm's bulk: after its first PROMPT_PER_LINK.
    positions = [n for n, e in enumerate(taken) if isinstance(e, LinkChanged)]
    assert positions == [PROMPT_PER_LINK, PROMPT_PER_LINK + 1]


async def test_an_event_that_may_reach_every_link_is_a_barrier():
    intake = Intake()
    for n in range(200):
        intake.put(route(n))
    snapshot = KernelSnapshot((), (), (), (), "resync")
    intake.put(snapshot)
    intake.put(carrier(12, False))  # queued after the snapshot: must not overtake it
    taken = await drain(intake)
    assert taken.index(snapshot) < taken.index(carrier(12, False))
    assert taken[:200] == [route(n) for n in range(200)]


async def test_reports_change_no_state_and_never_wait():
    intake = Intake()
    for n in range(300):
        intake.put(route(n))
    report = ScriptFinished(1, "carrier", 12, "eth12", "/x", 0, 0.01)
    intake.put(report)
    first, second = await intake.take(64), await intake.take(64)
    assert report not in first  # the storm's link had its PROMPT_PER_LINK first
    assert second == [report]  # then the report, before the storm's bulk


async def test_take_waits_for_an_event():
    intake = Intake()
    waiting = asyncio.ensure_future(intake.take(8))
    await asyncio.sleep(0)
    assert not waiting.done()
    intake.put(SourceStatus("netlink", True))
    assert await asyncio.wait_for(waiting, 1) == [SourceStatus("netlink", True)]


async def test_sources_wait_while_the_backlog_is_above_the_high_mark():
    intake = Intake(high=100, low=20)
    for n in range(150):
        intake.put(route(n))
    room = asyncio.ensure_future(intake.room())
    for _ in range(3):  # room() takes its turn, then waits below the high mark
        await asyncio.sleep(0)
    assert not room.done()  # the source waits
    while len(intake) >= 20:
        await intake.take(16)
    await asyncio.wait_for(room, 1)
    assert len(intake) < 20


@pytest.mark.parametrize("count", [1, PROMPT_PER_LINK, PROMPT_PER_LINK + 1])
async def test_a_quiet_link_is_prompt(count):
    intake = Intake()
    events = [route(n, oif=12) for n in range(count)]
    for event in events:
        intake.put(event)
    assert await drain(intake) == events
