"""The event ring buffer the API serves: what happened, and the scripts each event ran.

The engine adds one record per handled event and attaches script outcomes as they arrive.
Subscribers (the SSE stream) get every new record and every script outcome on their own
bounded queue; a subscriber too slow to keep up is dropped rather than slowing the engine.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from netevd.core.records import Record
from netevd.telemetry.history import History, ScriptRun

Wants = Callable[[str, dict[str, Any]], bool]  # (kind, document) -> does a subscriber take it

MAX_SCRIPTS_PER_EVENT = 64
SUBSCRIBER_QUEUE = 1024
OUTPUT_BUDGET = 4 * 1024 * 1024  # bytes of script output the whole ring keeps
OUTPUT_DROPPED = "[output dropped: the event log keeps at most 4 MiB of script output]"


@dataclass
class ScriptRecord:
    script: str
    directory: str
    exit_code: int | None
    duration: float
    timed_out: bool
    error: str
    output: str


@dataclass
class EventRecord:
    seq: int
    ts: float
    type: str  # a netevd.core.kinds.EventKind value
    source: str  # kernel, systemd-networkd, NetworkManager, dhclient, netevd
    link_index: int | None = None
    link_name: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    directories: list[str] = field(default_factory=list)  # script directories it fired
    scripts: list[ScriptRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, record: Record) -> EventRecord:
        return cls(
            record.seq,
            record.ts,
            record.kind.value,
            record.source,
            record.link_index,
            record.link_name,
            dict(record.detail),
            list(record.directories),
        )


class EventLog:
    def __init__(self, capacity: int = 1000, output_budget: int = OUTPUT_BUDGET) -> None:
        self.capacity = capacity
        self.output_budget = output_budget
        self.output_bytes = 0  # script output held by the ring, in UTF-8 bytes
        self._records: OrderedDict[int, EventRecord] = OrderedDict()
        self._subscribers: dict[asyncio.Queue[tuple[str, dict[str, Any]]], Wants | None] = {}
        self.total = 0
        self.history = History()  # the last hour beyond the ring, for the dashboard's plots

    @property
    def held(self) -> int:
        """Records the ring holds now."""
        return len(self._records)

    def add(self, recorded: Record) -> None:
        record = EventRecord.of(recorded)
        self._records[record.seq] = record
        self.total += 1
        while len(self._records) > self.capacity:
            _, gone = self._records.popitem(last=False)
            self.output_bytes -= sum(_size(sr.output) for sr in gone.scripts)
        if self._subscribers:  # building the document costs; most of the time nobody listens
            self._publish("event", record.to_dict())

    def add_many(self, records: Sequence[Record]) -> None:
        """Every record, in order. Without subscribers, only those the ring will keep are
        turned into EventRecords: a batch of 5,000 route events builds 1,000."""
        if self._subscribers or len(records) <= self.capacity:
            for recorded in records:
                self.add(recorded)
            return
        self.total += len(records) - self.capacity
        for recorded in records[-self.capacity :]:
            self.add(recorded)

    def attach_script(self, seq: int, script: ScriptRecord) -> None:
        record = self._records.get(seq)
        self.history.script(_run(seq, record, script, self.history.clock))
        if self._subscribers:
            self._publish("script", {"seq": seq, **asdict(script)})
        if record is not None and len(record.scripts) < MAX_SCRIPTS_PER_EVENT:
            record.scripts.append(script)
            self.output_bytes += _size(script.output)
            self._trim_output()

    def _trim_output(self) -> None:
        """Drop the oldest outputs until the ring holds at most output_budget bytes of them
        (1000 events x 64 scripts x 4 KiB would otherwise be about 260 MB)."""
        if self.output_bytes <= self.output_budget:
            return
        for record in self._records.values():
            for script in record.scripts:
                if script.output and script.output != OUTPUT_DROPPED:
                    self.output_bytes -= _size(script.output) - _size(OUTPUT_DROPPED)
                    script.output = OUTPUT_DROPPED
                    if self.output_bytes <= self.output_budget:
                        return

    def get(self, seq: int) -> EventRecord | None:
        return self._records.get(seq)

    def last(self) -> EventRecord | None:
        return next(reversed(self._records.values()), None)

    def query(
        self,
        *,
        limit: int = 100,
        since: int | None = None,
        interface: str | None = None,
        type_: str | None = None,
    ) -> list[EventRecord]:
        """The newest *limit* records after sequence *since*, oldest first."""
        found = [
            r
            for r in self._records.values()
            if (since is None or r.seq > since)
            and (interface is None or r.link_name == interface)
            and (type_ is None or r.type == type_)
        ]
        return found[-limit:] if limit else []

    def subscribe(self, wants: Wants | None = None) -> asyncio.Queue[tuple[str, dict[str, Any]]]:
        """A queue of every new record and script outcome, or only those *wants* takes:
        filtered here, so a stream of one interface is not cut off by a storm on another."""
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(SUBSCRIBER_QUEUE + 1)
        self._subscribers[queue] = wants
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        self._subscribers.pop(queue, None)

    def _publish(self, kind: str, document: dict[str, Any]) -> None:
        for queue, wants in list(self._subscribers.items()):
            if wants is not None and not wants(kind, document):
                continue
            if queue.qsize() >= SUBSCRIBER_QUEUE:
                # A stalled client must not hold the engine; it is cut off (told so with the
                # one slot kept free) and can resume from the ring buffer with Last-Event-ID.
                del self._subscribers[queue]
                queue.put_nowait(("overflow", {}))
            else:
                queue.put_nowait((kind, document))


def _run(
    seq: int, record: EventRecord | None, script: ScriptRecord, clock: Callable[[], float]
) -> ScriptRun:
    ts = record.ts if record is not None else clock()
    return ScriptRun(
        seq,
        ts,
        script.directory,
        script.script,
        script.duration,
        script.exit_code,
        script.timed_out,
    )


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))
