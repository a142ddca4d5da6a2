"""The last hour for the dashboard's plots (GET /api/v1/history), fed by a real Engine: events
per minute by type, each monitored link's kernel-derived state over time, script durations."""

from __future__ import annotations

from netevd.core.config import Config, MonitoringConfig
from netevd.core.events import (
    AddressAdded,
    KernelSnapshot,
    LinkChanged,
    LinkRemoved,
    RouteAdded,
    ScriptFinished,
    SourceStatus,
)
from netevd.core.model import AF_INET, IFF_LOOPBACK, IFF_LOWER_UP, IFF_UP, Addr, Link, Route
from netevd.engine import Engine
from netevd.telemetry import history
from netevd.telemetry.metrics import Metrics

UP = IFF_UP | IFF_LOWER_UP
LO = Link(1, "lo", UP | IFF_LOOPBACK, 65536)
ETH0 = Link(10, "eth0", UP, 1500)
T0 = 1_800_000_000.0  # a whole minute


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def world() -> tuple[Engine, Clock]:
    clock = Clock()
    engine = Engine(Config(), lambda action: None, Metrics(), backend="none", clock=clock)
    engine.events.history.clock = clock
    engine.handle(KernelSnapshot((LO, ETH0), (Addr(10, AF_INET, "10.0.0.1", 24),), (), ()))
    engine.handle(SourceStatus("netlink", True))
    return engine, clock


def lines(engine: Engine) -> dict[str, list[tuple[float, str]]]:
    found = engine.events.history.document()["links"]
    return {line["name"]: [(c["ts"], c["state"]) for c in line["changes"]] for line in found}


def test_each_monitored_links_state_is_followed_from_the_replay_on():
    engine, clock = world()
    assert lines(engine) == {"eth0": [(T0, "degraded")]}  # lo is excluded by default
    clock.now = T0 + 5
    engine.handle(LinkChanged(Link(10, "eth0", IFF_UP, 1500)))
    clock.now = T0 + 9
    engine.handle(LinkChanged(ETH0))
    clock.now = T0 + 12
    engine.handle(RouteAdded(Route(AF_INET, 254, "0.0.0.0/0", "10.0.0.254", 10)))
    engine.handle(RouteAdded(Route(AF_INET, 254, "10.9.0.0/16", "10.0.0.254", 10)))  # no change
    assert lines(engine) == {
        "eth0": [
            (T0, "degraded"),
            (T0 + 5, "no-carrier"),
            (T0 + 9, "degraded"),
            (T0 + 12, "routable"),
        ]
    }


def test_a_removed_link_is_gone_and_leaves_the_plot_when_it_ages_out():
    engine, clock = world()
    clock.now = T0 + 60
    engine.handle(LinkRemoved(10))
    assert lines(engine) == {"eth0": [(T0, "degraded"), (T0 + 60, "gone")]}
    clock.now = T0 + 60 + history.WINDOW + 1
    assert lines(engine) == {}


def test_changes_before_the_window_give_the_state_it_opens_in():
    engine, clock = world()
    for second in (10, 20, 30):
        clock.now = T0 + second
        engine.handle(LinkChanged(Link(10, "eth0", UP if second != 20 else IFF_UP, 1500)))
    clock.now = T0 + 25 + history.WINDOW
    assert lines(engine) == {"eth0": [(T0 + 20, "no-carrier"), (T0 + 30, "degraded")]}


def test_events_are_counted_per_minute_by_type_like_the_event_log():
    engine, clock = world()
    clock.now = T0 + 61
    engine.handle_many(
        [AddressAdded(Addr(10, AF_INET, f"10.0.1.{n}", 24)) for n in range(1, 4)]
        + [LinkChanged(Link(10, "eth0", IFF_UP, 1500))]
    )
    document = engine.events.history.document()
    assert document["minutes"] == [
        {"start": T0, "counts": {"replay": 1, "source": 1}},
        {"start": T0 + 60, "counts": {"link": 1, "address-added": 3}},
    ]
    counted: dict[tuple[int, str], int] = {}
    for record in engine.events.query(limit=1000):
        key = (int(record.ts // 60) * 60, record.type)
        counted[key] = counted.get(key, 0) + 1
    minutes = {(m["start"], k): n for m in document["minutes"] for k, n in m["counts"].items()}
    assert minutes == counted


def test_minutes_older_than_the_window_are_dropped():
    engine, clock = world()
    clock.now = T0 + history.WINDOW + 120
    engine.handle(LinkChanged(Link(10, "eth0", IFF_UP, 1500)))
    (minute,) = engine.events.history.document()["minutes"]
    assert minute == {"start": T0 + history.WINDOW + 120, "counts": {"link": 1}}


def test_at_most_max_links_are_followed_and_a_gone_ones_place_is_reused(monkeypatch):
    monkeypatch.setattr(history, "MAX_LINKS", 2)
    engine, clock = world()
    engine.handle(LinkChanged(Link(11, "eth1", UP, 1500)))
    engine.handle(LinkChanged(Link(12, "eth2", UP, 1500)))
    assert set(lines(engine)) == {"eth0", "eth1"}
    assert engine.events.history.document()["unfollowed_links"] == 1
    clock.now = T0 + 1
    engine.handle(LinkRemoved(11))
    engine.handle(LinkChanged(Link(13, "eth3", IFF_UP, 1500)))
    assert lines(engine)["eth3"] == [(T0 + 1, "no-carrier")]
    assert "eth1" not in lines(engine)


def test_script_runs_carry_their_events_time_and_duration():
    engine, clock = world()
    clock.now = T0 + 30
    engine.handle(LinkChanged(Link(10, "eth0", IFF_UP, 1500)))
    seq = engine.events.last().seq
    path = "/etc/netevd/no-carrier.d/50-x"
    finished = ScriptFinished(seq, "no-carrier", 10, "eth0", path, 3, 0.25)
    clock.now = T0 + 31
    engine.handle(finished)
    assert engine.events.history.document()["scripts"] == [
        {
            "seq": seq,
            "ts": T0 + 30,
            "directory": "no-carrier",
            "script": path,
            "duration": 0.25,
            "exit_code": 3,
            "timed_out": False,
        }
    ]


def test_a_reload_of_monitoring_judges_links_again():
    engine, clock = world()
    wanted = MonitoringConfig(exclude=())
    engine.events.history.monitoring = lambda: wanted  # a reload that no longer excludes lo
    clock.now = T0 + 1
    engine.handle(LinkChanged(LO))
    assert lines(engine)["lo"] == [(T0 + 1, "carrier")]  # no address in this world
