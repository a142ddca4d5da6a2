"""A batch's routine records are summarised at info level (each at debug); everything else is
logged as before, and every record reaches the event log and the metrics."""

import logging

from netevd.core.config import Config
from netevd.core.events import KernelSnapshot, LinkChanged, RouteAdded, SourceStatus
from netevd.core.model import IFF_LOWER_UP, IFF_UP, Link, Route
from netevd.engine import Engine
from netevd.telemetry.metrics import Metrics

ETH0 = Link(10, "eth0", IFF_UP | IFF_LOWER_UP, 1500)


def engine() -> Engine:
    found = Engine(Config(), lambda action: None, Metrics(), backend="none")
    found.handle(KernelSnapshot((ETH0,), (), (), ()))
    found.handle(SourceStatus("netlink", True))
    return found


def routes(count: int) -> list[RouteAdded]:
    return [RouteAdded(Route(2, 254, f"10.1.{n}.0/24", "10.0.0.1", 10)) for n in range(count)]


def test_a_storm_batch_logs_one_summary_line(caplog):
    e = engine()
    caplog.set_level(logging.INFO, logger="netevd.engine")
    e.handle_many([*routes(100), LinkChanged(Link(10, "eth0", IFF_UP, 1500))])
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if line.startswith("event seq=")]) == 1  # the link
    (summary,) = [line for line in lines if line.startswith("events.batch")]
    assert "route-added=100" in summary
    assert "links=eth0" in summary
    assert e.events.total == 103  # snapshot, source and the batch: every record kept
    assert e.events.last().type == "link"


def test_a_small_batch_logs_every_event(caplog):
    e = engine()
    caplog.set_level(logging.INFO, logger="netevd.engine")
    e.handle_many(routes(3))
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if line.startswith("event seq=")]) == 3
    assert not [line for line in lines if line.startswith("events.batch")]


def test_a_batch_larger_than_the_ring_keeps_its_newest_records():
    e = engine()
    e.handle_many(routes(1500))
    assert e.events.total == 1502
    assert e.events.last().seq == 1502
    assert len(e.events.query(limit=5000)) == e.events.capacity
