"""Scenario files (tests/scenarios/<subject>/*.yaml), in the style of exabgp's qa/: a kernel
snapshot, events in, and the script runs, routing actions and records that must come out of the
engine's pure step.

A scenario runs through netevd.core.step with nothing real around it: no loop, no kernel, no bus.
The script executor's queue rules come from netevd.core.scripts (the executor's own): pending
runs (routes.d and the address, mtu and gateway hooks) wait for their quiet window (``quiet``,
and at the end), newer runs supersede queued ones while the executor is held (``hold: true``
until ``start``). The format is described in docs/architecture.md.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.netevd import check_document
from netevd.config import parse_config
from netevd.core.actions import (
    Action,
    AssignTables,
    ManageNeighbours,
    Note,
    PendingRun,
    PushHostname,
    PushLinkDns,
    Ready,
    ReconcileRouting,
    RejectLink,
    RevertLinkDns,
    RunScripts,
    SkipUnknownState,
)
from netevd.core.config import Config
from netevd.core.events import (
    AddressAdded,
    AddressRemoved,
    ConfigReloaded,
    Event,
    KernelSnapshot,
    LeaseChanged,
    LeaseLost,
    LinkChanged,
    LinkRemoved,
    ManagerChanged,
    ManagerLinkChanged,
    ManagerLinkRemoved,
    ManagerSnapshot,
    NeighbourChanged,
    NeighbourRemoved,
    QuietWindowEnded,
    RouteAdded,
    RouteRemoved,
    RoutesSnapshot,
    RoutingApplied,
    RuleAdded,
    RuleRemoved,
    ServiceCalled,
    SourceStatus,
    TablesAssigned,
    VpnChanged,
    VpnRemoved,
)
from netevd.core.model import (
    AF_INET,
    AF_INET6,
    FLAG_NAMES,
    IFF_LOWER_UP,
    IFF_UP,
    NUD_STATES,
    RTPROT_NETEVD,
    Addr,
    Lease,
    Link,
    Neigh,
    Route,
    Rule,
)
from netevd.core.scripts import enqueue
from netevd.core.step import Step, World, require, step, step_many, with_backend

DIRECTORY = Path(__file__).resolve().parents[1] / "scenarios"
NOW = 1_700_000_000.0
FLAGS = {name: bit for bit, name in FLAG_NAMES.items()}
TABLES = {"main": 254, "local": 255, "default": 253}
PROTOCOLS = {"kernel": 2, "boot": 3, "static": 4, "dhcp": 16, "ra": 9, "netevd": 78}
SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254}


# --- building kernel objects from their YAML form ----------------------------------------------


def link(spec: dict[str, Any]) -> Link:
    flags = sum(FLAGS[name] for name in spec.get("flags", ()))
    if spec.get("up", True):
        flags |= IFF_UP
    if spec.get("carrier", True):
        flags |= IFF_LOWER_UP
    return Link(
        index=spec["index"],
        name=spec["name"],
        flags=flags,
        mtu=spec.get("mtu", 1500),
        mac=spec.get("mac", f"02:00:00:00:00:{spec['index'] % 256:02x}"),
        operstate=spec.get("operstate", "UP" if flags & IFF_LOWER_UP else "DOWN"),
        kind=spec.get("kind", "veth"),
    )


def addr(spec: dict[str, Any]) -> Addr:
    interface = ipaddress.ip_interface(spec["address"])
    scope = spec.get("scope")
    if scope is None:
        scope = "link" if interface.ip.is_link_local else "host" if interface.ip.is_loopback else 0
    return Addr(
        index=spec["link"],
        family=AF_INET if interface.version == 4 else AF_INET6,
        address=str(interface.ip),
        prefixlen=interface.network.prefixlen,
        scope=SCOPES[scope] if isinstance(scope, str) else scope,
    )


def _number(value: Any, names: dict[str, int]) -> int:
    return names[value] if isinstance(value, str) else int(value)


def route(spec: dict[str, Any]) -> Route:
    dst = spec["dst"]
    if dst == "default":
        dst = "::/0" if ":" in spec.get("gateway", "") or spec.get("family") == 6 else "0.0.0.0/0"
    network = ipaddress.ip_network(dst, strict=False)
    return Route(
        family=AF_INET if network.version == 4 else AF_INET6,
        table=_number(spec.get("table", "main"), TABLES),
        dst=str(network),
        gateway=spec.get("gateway", ""),
        oif=spec.get("oif", 0),
        protocol=_number(spec.get("protocol", "boot"), PROTOCOLS),
        scope=_number(spec.get("scope", "link" if "gateway" not in spec else "global"), SCOPES),
        priority=spec.get("metric", 0),
    )


def rule(spec: dict[str, Any]) -> Rule:
    sample = spec.get("from") or spec.get("to") or ""
    return Rule(
        family=AF_INET6 if ":" in sample or spec.get("family") == 6 else AF_INET,
        priority=spec["priority"],
        table=_number(spec["table"], TABLES),
        src=spec.get("from", ""),
        dst=spec.get("to", ""),
        protocol=_number(spec.get("protocol", 0), PROTOCOLS),
    )


NUD_NUMBERS = {name: number for number, name in NUD_STATES.items()}


def neigh(spec: dict[str, Any]) -> Neigh:
    """A neighbour entry in YAML: link, address, state (a NUD name), lladdr; netevd's own
    (protocol 78) unless said otherwise."""
    address = spec["address"]
    family = AF_INET6 if ":" in address else AF_INET
    state = NUD_NUMBERS[spec.get("state", "none")]
    protocol = spec.get("protocol", RTPROT_NETEVD)
    return Neigh(spec["link"], family, address, state, spec.get("lladdr", ""), protocol, 1)


def lease(spec: dict[str, Any]) -> Lease:
    """A lease in YAML: the Lease fields by name, lists for the tuples."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
    fields.pop("replay", None)
    return Lease(**{"family": 4, **fields})


def snapshot(spec: dict[str, Any], reason: str) -> KernelSnapshot:
    return KernelSnapshot(
        tuple(link(s) for s in spec.get("links", ())),
        tuple(addr(s) for s in spec.get("addresses", ())),
        tuple(route(s) for s in spec.get("routes", ())),
        tuple(rule(s) for s in spec.get("rules", ())),
        reason,
    )


def _props(values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in values.items())


def _manager_snapshot(spec: dict[str, Any]) -> ManagerSnapshot:
    links = tuple(
        (entry["index"], _props(entry.get("properties", {})), entry.get("describe", ""))
        for entry in spec.get("links", ())
    )
    vpns = tuple((e["number"], _props(e.get("properties", {}))) for e in spec.get("vpns", ()))
    return ManagerSnapshot(
        spec.get("source", "systemd-networkd"), links, _props(spec.get("manager", {})), vpns
    )


def event(kind: str, spec: Any) -> Event:
    """One event from its YAML form (a mapping with one key: the event's kind)."""
    simple = {
        "link": lambda: LinkChanged(link(spec)),
        "link-removed": lambda: LinkRemoved(spec),
        "address-added": lambda: AddressAdded(addr(spec)),
        "address-removed": lambda: AddressRemoved(addr(spec)),
        "route-added": lambda: RouteAdded(route(spec)),
        "route-removed": lambda: RouteRemoved(route(spec)),
        "rule-added": lambda: RuleAdded(rule(spec)),
        "rule-removed": lambda: RuleRemoved(rule(spec)),
        "neighbour": lambda: NeighbourChanged(neigh(spec)),
        "neighbour-removed": lambda: NeighbourRemoved(neigh(spec)),
        "snapshot": lambda: snapshot(spec, spec.get("reason", "resync")),
        "routes-snapshot": lambda: RoutesSnapshot(tuple(route(s) for s in spec)),
        "manager-link": lambda: ManagerLinkChanged(
            spec.get("source", "systemd-networkd"),
            spec["index"],
            _props(spec.get("properties", {})),
            spec.get("describe", ""),
        ),
        "manager-link-removed": lambda: ManagerLinkRemoved(
            spec.get("source", "systemd-networkd"), spec["index"]
        ),
        "manager": lambda: ManagerChanged(
            spec.get("source", "systemd-networkd"), _props(spec.get("properties", {}))
        ),
        "manager-snapshot": lambda: _manager_snapshot(spec),
        "vpn": lambda: VpnChanged(
            spec.get("source", "NetworkManager"), spec["number"], _props(spec["properties"])
        ),
        "vpn-removed": lambda: VpnRemoved(spec.get("source", "NetworkManager"), spec["number"]),
        "source": lambda: SourceStatus(spec["name"], spec.get("up", True), spec.get("detail", "")),
        "config": lambda: ConfigReloaded(parse_config(spec, env={}).config),
        "tables": lambda: TablesAssigned(tuple(sorted(spec.items()))),
        "routing-applied": lambda: RoutingApplied(**spec),
        "lease": lambda: LeaseChanged(
            spec["interface"], lease(spec), replay=spec.get("replay", False)
        ),
        "lease-lost": lambda: LeaseLost(
            spec["interface"], spec.get("reason", "expired"), spec.get("family", 4)
        ),
        "service-called": lambda: ServiceCalled(**spec),
    }
    if kind not in simple:
        raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(sorted(simple))}")
    return simple[kind]()


# --- running ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What came out of the events phase (the start-up replay is kept apart)."""

    runs: list[RunScripts] = field(default_factory=list)  # started, in order
    dropped: list[tuple[RunScripts, RunScripts]] = field(default_factory=list)  # (old, by)
    actions: list[Action] = field(default_factory=list)  # everything but runs
    records: list[Any] = field(default_factory=list)


class Runner:
    """The engine's step plus the executor's queue rules, with time standing still."""

    def __init__(self, config: Config, backend: str, hold: bool) -> None:
        self.config = config
        self.world = with_backend(World(), backend)
        self.hold = hold
        self.pending: dict[tuple[int, str], PendingRun] = {}  # awaiting their quiet window
        self.queues: dict[int, tuple[RunScripts, ...]] = {}
        self.outcome = Outcome()

    def feed(self, incoming: Event) -> None:
        self._result(step(self.world, incoming, self.config, NOW))

    def feed_many(self, incoming: list[Event]) -> None:
        """Events the engine took off its queue together: one step_many."""
        self._result(step_many(self.world, incoming, self.config, NOW))

    def _result(self, result: Step) -> None:
        self.world = result.world
        self.outcome.records += result.records
        for action in result.actions:
            self._action(action)

    def _action(self, action: Action) -> None:
        if isinstance(action, PendingRun):  # the newest wins; completed when quiet
            self.pending[(action.link_index, action.directory)] = action
            return
        if isinstance(action, RunScripts):
            self._enqueue(action)
            return
        if hasattr(action, "config"):
            self.config = action.config  # ConfigApplied: the engine shell does the same
        self.outcome.actions.append(action)

    def _enqueue(self, run: RunScripts) -> None:
        queue, superseded = enqueue(self.queues.get(run.link_index, ()), run)
        self.queues[run.link_index] = queue
        self.outcome.dropped += [(old, run) for old in superseded]
        if not self.hold:
            self.start()

    def start(self) -> None:
        for index in sorted(self.queues):
            self.outcome.runs += self.queues[index]
        self.queues.clear()

    def quiet(self) -> None:
        pending, self.pending = self.pending, {}
        for key in sorted(pending):
            self.feed(QuietWindowEnded(pending[key]))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    assert {"name", "expect"} <= set(data), f"{path}: a scenario needs a name and an expect"
    return data


def run(data: dict[str, Any]) -> tuple[Runner, Outcome]:
    """(the runner, the start-up replay's outcome): the events' outcome is runner.outcome."""
    loaded = parse_config(data.get("config") or {}, env={})
    backend = data.get("backend", "none")
    runner = Runner(loaded.config, backend, data.get("hold", False))
    runner.world = require(runner.world, data.get("require", ()))
    runner.feed(snapshot(data.get("kernel") or {}, "startup"))
    runner.feed(SourceStatus("netlink", True, "startup"))
    for entry in data.get("before") or ():  # set-up events whose outcome is not the point
        _apply(runner, entry)
    runner.quiet()
    runner.start()
    replay, runner.outcome = runner.outcome, Outcome()
    for entry in data.get("events") or ():
        _apply(runner, entry)
    runner.quiet()
    return runner, replay


def _substitute(spec: Any, i: int) -> Any:
    if isinstance(spec, str):
        return spec.replace("{i}", str(i))
    if isinstance(spec, dict):
        return {k: _substitute(v, i) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_substitute(v, i) for v in spec]
    return spec


def _expand(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A batch's entries with each ``repeat`` written out."""
    found: list[dict[str, Any]] = []
    for entry in entries:
        ((kind, spec),) = entry.items()
        if kind == "repeat":
            found += _expand([_substitute(spec["event"], i) for i in range(spec["count"])])
        else:
            found.append(entry)
    return found


def _apply(runner: Runner, entry: dict[str, Any]) -> None:
    ((kind, spec),) = entry.items()
    if kind == "repeat":  # {count: N, event: {...}}: "{i}" in strings counts 0..N-1
        for i in range(spec["count"]):
            _apply(runner, _substitute(spec["event"], i))
    elif kind == "batch":  # events handled as one batch, as the engine takes what is queued
        runner.feed_many([event(*next(iter(item.items()))) for item in _expand(spec)])
    elif kind == "quiet":
        runner.quiet()
    elif kind == "start":
        runner.start()
    else:
        runner.feed(event(kind, spec))


# --- checking -----------------------------------------------------------------------------------


def _run_name(tree: str, directory: str, link: str) -> str:
    """``dir@link``; a compat run's with its tree first: ``nm-dispatcher:up@eth0``."""
    return f"{'' if tree == 'netevd' else tree + ':'}{directory}@{link or '-'}"


def check_runs(runs: list[RunScripts], expected: list[dict[str, Any]], what: str) -> None:
    got = [_run_name(r.tree, r.directory, r.link_name) for r in runs]
    want = [_run_name(e.get("tree", "netevd"), e["dir"], e.get("link", "-")) for e in expected]
    assert got == want, f"{what}: ran {got}, expected {want}"
    for run_, spec in zip(runs, expected, strict=True):
        if "args" in spec:
            assert list(run_.args) == spec["args"], f"{what} {run_.directory}: args {run_.args}"
        env = run_.env_dict()
        for name, value in (spec.get("env") or {}).items():
            assert env.get(name) == str(value), f"{what} {run_.directory}: {name}={env.get(name)!r}"
        for name in spec.get("absent", ()):
            assert name not in env, f"{what} {run_.directory}: {name} should be absent"
        for name, pattern in (spec.get("match") or {}).items():
            assert re.search(pattern, env.get(name, "")), f"{what}: {name} !~ {pattern}"
        for prefix in spec.get("none_with", ()):  # no variable of this family at all
            assert not [n for n in env if n.startswith(prefix)], f"{what}: {prefix}* in {env}"


def _of(actions: list[Action], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


def check_routing(actions: list[Action], expected: Any) -> None:
    plans = _of(actions, ReconcileRouting)
    if expected == "none":
        assert plans == [], f"expected no routing change, got {plans}"
        return
    assert plans, "expected a routing plan"
    plan = plans[-1]
    if "rules" in expected:
        want = {rule(r) for r in expected["rules"]}
        got = {r for r in plan.rules}
        assert {_rule_text(r) for r in got} == {_rule_text(r) for r in want}
    if "routes" in expected:
        got_routes = {(r.dst, r.gateway, r.oif, r.table) for r in plan.routes}
        want_routes = {
            (route(s).dst, s.get("gateway", ""), s["oif"], s["table"]) for s in expected["routes"]
        }
        assert got_routes == want_routes


def _rule_text(r: Rule) -> str:
    side = f"from {r.src}" if r.src else f"to {r.dst}"
    return f"{side} lookup {r.table} priority {r.priority}"


def check(runner: Runner, replay: Outcome, expect: dict[str, Any]) -> None:
    """The events phase against *expect*; ``expect.replay`` (runs, or a mapping of the same
    keys) against the start-up replay. Every run's NETEVD_JSON must match the shipped schema."""
    for run_ in replay.runs + runner.outcome.runs:
        check_document(run_.env_dict()["NETEVD_JSON"])
    phase = expect.get("replay")
    if isinstance(phase, list):
        check_runs(replay.runs, phase, "replay")
    elif isinstance(phase, dict):
        check_outcome(replay, phase, "replay")
    check_outcome(runner.outcome, expect, "events")
    if "ready" in expect:
        assert runner.world.ready is expect["ready"]
        assert bool(_of(replay.actions + runner.outcome.actions, Ready)) is expect["ready"]


def check_outcome(outcome: Outcome, expect: dict[str, Any], what: str) -> None:
    if "runs" in expect:
        check_runs(outcome.runs, expect["runs"], what)
    if "dropped" in expect:
        got = [(old.tree, old.directory, old.seq, by.seq) for old, by in outcome.dropped]
        want = [(d.get("tree", "netevd"), d["dir"], d["seq"], d["by"]) for d in expect["dropped"]]
        assert got == want, f"{what}: dropped {got}, expected {want}"
    if "routing" in expect:
        check_routing(outcome.actions, expect["routing"])
    if "neighbours" in expect:
        kept = _of(outcome.actions, ManageNeighbours)
        got_entries = sorted([i, a] for i, _, a in kept[-1].entries) if kept else None
        assert got_entries == expect["neighbours"], f"{what}: neighbours {got_entries}"
    if "tables" in expect:
        assigned = _of(outcome.actions, AssignTables)
        assert assigned, f"{what}: no table assignment"
        assert dict(assigned[-1].tables) == expect["tables"]
    if "records" in expect:
        got = [(r.kind.value, r.link_name) for r in outcome.records]
        want = [(r["kind"], r.get("link")) for r in expect["records"]]
        assert got == want, f"{what}: records {got}, expected {want}"
    _check_refusals(outcome, expect)
    _check_name_services(outcome, expect)


def _check_name_services(outcome: Outcome, expect: dict[str, Any]) -> None:
    if "name_services" not in expect:
        return
    got = []
    for action in outcome.actions:
        if isinstance(action, PushLinkDns):
            got.append(
                {
                    "push": action.link_name,
                    "servers": None if action.servers is None else list(action.servers),
                    "domains": None if action.domains is None else list(action.domains),
                }
            )
        elif isinstance(action, RevertLinkDns):
            got.append({"revert": action.link_name, "gone": action.gone})
        elif isinstance(action, PushHostname):
            got.append({"hostname": action.name})
    want = [
        {"servers": None, "domains": None, **e}
        if "push" in e
        else ({"gone": False, **e} if "revert" in e else e)
        for e in expect["name_services"]
    ]
    assert got == want, f"name services {got}, expected {want}"


def _check_refusals(outcome: Outcome, expect: dict[str, Any]) -> None:
    if "rejected" in expect:
        got = [(a.index, a.name) for a in _of(outcome.actions, RejectLink)]
        assert got == [(r["index"], r["name"]) for r in expect["rejected"]]
    if "unknown" in expect:
        got = [a.value for a in _of(outcome.actions, SkipUnknownState)]
        assert got == expect["unknown"]
    if "notes" in expect:
        notes = [a.message for a in _of(outcome.actions, Note)]
        for pattern in expect["notes"]:
            assert any(re.search(pattern, n) for n in notes), f"no note ~ {pattern}: {notes}"
