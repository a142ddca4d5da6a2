"""step_many is step, event after event: same world, actions, records and tally, however the
events are cut into batches; and events of different links commute (the intake's premise)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from netevd.core.actions import RunScripts
from netevd.core.config import Config
from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    KernelSnapshot,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    RouteRemoved,
    SourceStatus,
)
from netevd.core.model import IFF_LOWER_UP, IFF_UP, Addr, Link, Route
from netevd.core.state import event_scope
from netevd.core.step import Step, World, step, step_many, with_backend

NOW = 1_700_000_000.0
LINKS = (10, 12, 14)


def start() -> World:
    world = with_backend(World(), "none")
    links = tuple(Link(i, f"eth{i}", IFF_UP | IFF_LOWER_UP, 1500) for i in LINKS)
    world = step(world, KernelSnapshot(links, (), (), ()), Config(), NOW).world
    return step(world, SourceStatus("netlink", True), Config(), NOW).world


index = st.sampled_from(LINKS)
link_events = st.builds(
    lambda i, up, carrier: LinkChanged(
        Link(i, f"eth{i}", (IFF_UP if up else 0) | (IFF_LOWER_UP if carrier else 0), 1500)
    ),
    index,
    st.booleans(),
    st.booleans(),
)
addr_events = st.builds(
    lambda cls, i, n: cls(Addr(i, 2, f"10.{i}.0.{n}", 24)),
    st.sampled_from([AddressAdded, AddressRemoved]),
    index,
    st.integers(1, 4),
)
route_events = st.builds(
    lambda cls, i, n, default: cls(
        Route(2, 254, "0.0.0.0/0" if default else f"10.{n}.0.0/16", f"10.{i}.0.254", i, 3)
    ),
    st.sampled_from([RouteAdded, RouteRemoved]),
    index,
    st.integers(1, 4),
    st.booleans(),
)
kernel_events = st.lists(
    st.one_of(link_events, addr_events, route_events, st.builds(LinkRemoved, index)),
    max_size=40,
)


def one_by_one(world: World, events) -> Step:
    actions, records, tally = [], [], []
    for event in events:
        result = step(world, event, Config(), NOW)
        world = result.world
        actions += result.actions
        records += result.records
        tally += result.tally
    return Step(world, tuple(actions), tuple(records), tuple(tally))


@given(kernel_events, st.integers(1, 8))
@settings(max_examples=150, deadline=None)
def test_batches_change_nothing(events, size):
    world = start()
    expected = one_by_one(world, events)
    actions, records = [], []
    for at in range(0, len(events), size):
        result = step_many(world, events[at : at + size], Config(), NOW)
        world = result.world
        actions += result.actions
        records += result.records
    assert world == expected.world
    assert actions == list(expected.actions)
    assert records == list(expected.records)


def _link_of(event) -> int:
    (found,) = event_scope(event)
    return found


@given(kernel_events)
@settings(max_examples=150, deadline=None)
def test_links_commute(events):
    """Handling one link's events before another's (each in its own order) ends in the same
    state, and fires the same runs for each link in the same order."""
    world = start()
    mixed = step_many(world, events, Config(), NOW)
    grouped = sorted(events, key=_link_of)  # sorted() is stable: per-link order kept
    apart = step_many(world, grouped, Config(), NOW)
    assert apart.world.state == mixed.world.state

    def runs(result: Step, link: int):
        return [
            (a.directory, a.env_dict().get("ADDRESSES") if isinstance(a, RunScripts) else None)
            for a in result.actions
            if getattr(a, "link_index", None) == link
        ]

    for link in LINKS:
        assert runs(apart, link) == runs(mixed, link)
