"""The netevd.event.v1 JSON Schema shipped with the package: present, valid, and strict enough
to refuse what is not an event document (every document the tests see is checked against it:
tests/unit/scenarios.py and lab.netevd.ScriptDirs.runs)."""

import json
from importlib import resources

import jsonschema_rs
import pytest

from lab.errors import LabError
from lab.netevd import check_document

SCHEMA = resources.files("netevd").joinpath("schemas", "netevd.event.v1.schema.json")

LINK_DOC = {
    "schema": "netevd.event.v1",
    "seq": 7,
    "ts": 1.5,
    "event": "link",
    "replay": False,
    "state": "no-carrier",
    "backend": "kernel",
    "link": {
        "name": "eth0",
        "index": 10,
        "mtu": 1500,
        "mac": "02:00:00:00:00:0a",
        "kind": "veth",
        "operstate": "DOWN",
        "flags": ["UP"],
        "carrier": False,
    },
    "addresses": ["10.0.0.1/24"],
    "gateway": None,
    "gateway6": None,
    "kernel_state": "no-carrier",
}


def test_the_schema_is_packaged_and_valid_draft_2020_12():
    schema = json.loads(SCHEMA.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert isinstance(jsonschema_rs.validator_for(schema), jsonschema_rs.Draft202012Validator)


def test_a_link_document_passes():
    assert check_document(json.dumps(LINK_DOC))["state"] == "no-carrier"


@pytest.mark.parametrize(
    "change",
    [
        {"schema": "netevd.event.v2"},
        {"backend": "bash"},
        {"state": "../x"},
        {"manager": {"State": "x"}, "changed": []},  # a link and a manager at once
        {"seq": "7"},
    ],
)
def test_what_is_not_an_event_document_is_refused(change):
    with pytest.raises(LabError, match=r"does not match netevd\.event\.v1\.schema\.json"):
        check_document(json.dumps({**LINK_DOC, **change}))


def test_a_document_without_its_link_is_refused():
    doc = {k: v for k, v in LINK_DOC.items() if k != "link"}
    with pytest.raises(LabError):
        check_document(json.dumps(doc))
