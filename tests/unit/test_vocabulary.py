"""One vocabulary: the event kinds (netevd.core.kinds) and script directories
(netevd.core.directories) are what the engine records, the log says, the API accepts and
describes, the CLI offers and the dashboard shows."""

import argparse
import re
from pathlib import Path

import pytest
from multidict import MultiDict
from scenarios import DIRECTORY, load, run

from netevd.api import openapi
from netevd.api.params import EventQuery, ParamError
from netevd.cli import build_parser
from netevd.config import ConfigError, parse_config
from netevd.core.compat.networkd_dispatcher import STATES as NETWORKD_DISPATCHER_STATES
from netevd.core.compat.nm_dispatcher import ACTIONS as NM_DISPATCHER_ACTIONS
from netevd.core.describe import record_line
from netevd.core.directories import Directory
from netevd.core.kinds import KINDS, EventKind
from netevd.core.react.liveness import LIVENESS_EVENTS
from netevd.core.records import Record
from netevd.core.trees import Tree

DASHBOARD = Path(__file__).resolve().parents[2] / "netevd" / "api" / "static" / "app.js"
DIRECTORIES = [d.value for d in Directory]
COMPAT_DIRECTORIES = {
    Tree.NETWORKD_DISPATCHER: NETWORKD_DISPATCHER_STATES,  # all of them netevd directories too
    Tree.NM_DISPATCHER: frozenset(NM_DISPATCHER_ACTIONS),
}


def _subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[name]


def test_the_api_accepts_exactly_the_kinds():
    for kind in KINDS:
        assert EventQuery.parse(MultiDict(type=kind)).type == kind
    with pytest.raises(ParamError):
        EventQuery.parse(MultiDict(type="state"))


def test_the_openapi_document_describes_the_kinds_and_directories():
    doc = openapi.build()
    params = doc["paths"]["/api/v1/events"]["get"]["parameters"]
    (type_param,) = [p for p in params if p["name"] == "type"]
    assert type_param["schema"]["enum"] == list(KINDS)
    event = doc["components"]["schemas"]["Event"]["properties"]
    assert event["type"]["enum"] == list(KINDS)
    assert event["directories"]["items"]["enum"] == DIRECTORIES
    script = doc["components"]["schemas"]["ScriptRun"]["properties"]
    assert script["directory"]["enum"] == DIRECTORIES


def test_the_cli_offers_the_kinds():
    (option,) = [a for a in _subcommand("events")._actions if "--type" in a.option_strings]
    assert list(option.choices) == list(KINDS)


def test_the_dashboard_reads_the_kinds_from_the_api_and_names_no_other():
    source = DASHBOARD.read_text()
    assert 'find((p) => p.name === "type").schema.enum' in source
    cases = set(re.findall(r'case "([^"]+)":', source))
    assert cases
    assert cases <= set(KINDS)


def test_the_engine_records_and_script_events_speak_the_vocabulary():
    seen: set[str] = set()
    events: set[str] = set()
    for path in sorted(DIRECTORY.rglob("*.yaml")):
        runner, replay = run(load(path))
        records = replay.records + runner.outcome.records
        seen |= {r.kind.value for r in records}
        for run_ in replay.runs + runner.outcome.runs:
            if run_.tree != Tree.NETEVD:  # the other tool's words (compat:)
                assert run_.directory in COMPAT_DIRECTORIES[run_.tree]
                continue
            assert run_.directory in DIRECTORIES
            events.add(run_.env_dict()["EVENT"])
    assert seen <= set(KINDS)
    assert len(seen) >= 12  # the scenarios exercise most kinds
    # routes.d's and gateway.d's words
    assert events <= set(KINDS) | {"new", "del", "changed"} | LIVENESS_EVENTS


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_kind_has_a_log_line_that_names_it(kind):
    line = record_line(Record(7, 0.0, kind, "kernel", 3, "eth0", {"up": True}))
    assert kind.value in line or (kind is EventKind.SOURCE and line.startswith("source.up "))


def test_networkd_dispatchers_states_are_netevd_directories():
    assert set(DIRECTORIES) >= NETWORKD_DISPATCHER_STATES


def test_filters_name_script_directories():
    for directory in DIRECTORIES:
        match = {"match": {"event_type": directory}}
        assert parse_config({"filters": [match]}, env={}).config.filters
    with pytest.raises(ConfigError) as info:
        parse_config({"filters": [{"match": {"event_type": "routeable"}}]}, env={})
    assert info.value.errors == [
        "filters[0].match.event_type: 'routeable' is not a script directory; choose one of "
        + ", ".join(DIRECTORIES)
    ]
