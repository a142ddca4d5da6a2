"""Running NetworkManagerSource in-process, as if netevd ran in a lab namespace.

The source runs on a thread that entered the namespace (lab.net.netns_loop), so its ifindex lookup
(``if_nametoindex``) sees the namespace's links; its events are collected on the test's loop.
No engine: the tests look at exactly what the source emits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lab import wait_until
from lab.net.netns_loop import NetnsLoop
from netevd.core.events import Event, ManagerLinkChanged, ManagerSnapshot, SourceStatus
from netevd.sources.networkmanager.source import NetworkManagerSource
from netevd.telemetry.metrics import Metrics


class Collected:
    """``async with Collected(ns, env) as got:`` the source runs; ``got.events`` fills up."""

    def __init__(self, netns: str, env: dict[str, str], **options: object) -> None:
        self.netns = netns
        self.events: list[Event] = []
        self.metrics = Metrics()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.source = NetworkManagerSource(
            self._emit, env=env, metrics=self.metrics, backoff_max=1.0, **options
        )
        self._thread = NetnsLoop(netns)
        self._run = None

    def _emit(self, event: Event) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.events.append, event)

    async def __aenter__(self) -> Collected:
        self._loop = asyncio.get_running_loop()
        self._thread.start()
        self._run = self._thread.submit(self.source.run)
        return self

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        await asyncio.to_thread(self._thread.stop)
        if exc_type is None and self._run is not None:  # the source never returns nor raises
            assert self._run.cancelled(), self._run.exception()

    def mark(self) -> int:
        return len(self.events)

    async def wait_for(
        self, test: Callable[[Event], bool], since: int = 0, timeout: float = 10.0
    ) -> Event:
        """The first event from index *since* on that passes *test*."""

        def found() -> Event | None:
            return next((e for e in self.events[since:] if test(e)), None)

        event: Event = await wait_until(found, timeout, message=lambda: self._explain(since))
        return event

    def _explain(self, since: int) -> str:
        tail = "\n  ".join(repr(e) for e in self.events[since:][-15:])
        return f"no such event; since #{since}:\n  {tail}"

    async def status(self, up: bool, since: int = 0) -> SourceStatus:
        event = await self.wait_for(lambda e: isinstance(e, SourceStatus) and e.up is up, since)
        assert isinstance(event, SourceStatus)
        return event

    async def snapshot(self, since: int = 0) -> ManagerSnapshot:
        event = await self.wait_for(lambda e: isinstance(e, ManagerSnapshot), since)
        assert isinstance(event, ManagerSnapshot)
        return event

    async def device_state(self, index: int, state: str, since: int = 0) -> dict[str, str]:
        """The properties of the first event putting link *index* in *state*."""

        def test(e: Event) -> bool:
            return (
                isinstance(e, ManagerLinkChanged)
                and e.index == index
                and dict(e.properties).get("DeviceState") == state
            )

        event = await self.wait_for(test, since)
        assert isinstance(event, ManagerLinkChanged)
        return dict(event.properties)

    def index(self, test: Callable[[Event], bool], since: int = 0) -> int:
        """The position of the first event from *since* on that passes *test*."""
        return next(i for i in range(since, len(self.events)) if test(self.events[i]))

    def link_events(self, index: int, since: int = 0) -> list[dict[str, str]]:
        return [
            dict(e.properties)
            for e in self.events[since:]
            if isinstance(e, ManagerLinkChanged) and e.index == index
        ]

    def states(self, index: int, since: int = 0) -> list[tuple[str, str | None, str]]:
        return [
            (p["DeviceState"], p.get("DeviceStateOld"), p["Reason"])
            for p in self.link_events(index, since)
            if "DeviceState" in p
        ]


def has(kind: type, **values: object) -> Callable[[Event], bool]:
    """A test for an event of *kind* whose properties (or fields) include *values*."""

    def test(event: Event) -> bool:
        if not isinstance(event, kind):
            return False
        props = dict(getattr(event, "properties", ()))
        return all(props.get(k, getattr(event, k, None)) == v for k, v in values.items())

    return test


def snapshot_links(snapshot: ManagerSnapshot) -> dict[int, dict[str, str]]:
    return {index: dict(props) for index, props, _ in snapshot.links}
