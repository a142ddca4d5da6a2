"""Issue 10, the smaller findings that live in pure or standalone code (attack 6), and the
trust walk's rules (attack 2) on plain files."""

import os
import sys
from pathlib import Path

import pytest

from netevd.api.guard import split_host
from netevd.core.environment import check, validated
from netevd.core.kinds import EventKind
from netevd.core.records import Record
from netevd.core.runs import large_values
from netevd.executors.scripts.runner import run_script
from netevd.executors.scripts.trust import open_script
from netevd.telemetry.eventlog import OUTPUT_DROPPED, EventLog, ScriptRecord

ALLOWED = frozenset({os.geteuid()})


def test_environment_limits_count_bytes():
    # 60,000 characters of three bytes each: 180,000 bytes, over Linux's 131,072 per string.
    value = '"' + "\u20ac" * 60000 + '"'
    assert check("NETEVD_JSON", value) == "longer than 131071 bytes"
    values = {"JSON": value}
    assert large_values(values) == [("NETEVD_JSON_FILE", value)]
    assert "JSON" not in values, "moved to a file instead of failing every exec with E2BIG"


def test_zone_ids_in_addresses_are_checked():
    env, dropped = validated({"ADDRESSES": "fe80::1%$(id)/64 10.0.0.1", "GATEWAY": "fe80::1%eth0"})
    assert dict(dropped) == {"ADDRESSES": "not a list of addresses"}
    assert dict(env) == {"GATEWAY": "fe80::1%eth0"}
    assert validated({"ADDRESSES": "fe80::1%eth0/64"})[0] == (("ADDRESSES", "fe80::1%eth0/64"),)


async def test_a_script_printing_without_end_is_not_split_past_the_budget(tmp_path):
    script = tmp_path / "flood"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write('x\\n' * 200000)\n")
    script.chmod(0o755)
    lines: list[str] = []
    result = await run_script(script, {}, 10, 4096, on_line=lines.append, line_budget=200)
    assert len(lines) == 200
    assert result.lines_unlogged == 200000 - 200
    assert result.exit_code == 0


def test_the_event_ring_bounds_script_output_in_bytes():
    log = EventLog(capacity=1000, output_budget=64 * 1024)
    for seq in range(1, 201):
        log.add(Record(seq, 0.0, EventKind.LINK, "kernel"))
        output = "\u20ac" * 4096  # 12 KiB in UTF-8
        log.attach_script(seq, ScriptRecord("s", "carrier", 0, 0.1, False, "", output))
    assert log.output_bytes <= 64 * 1024
    assert log.get(1).scripts[0].output == OUTPUT_DROPPED
    assert log.get(200).scripts[0].output.startswith("\u20ac")


def test_host_header_parsing():
    assert split_host("[::1]:9090") == ("::1", 9090)
    assert split_host("LOCALHOST.") == ("localhost", None)
    assert split_host("127.0.0.1:99999") is None
    assert split_host("[::1") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files to another user")
def test_the_walk_refuses_a_hop_owned_by_someone_else(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o755)
    script = real / "s"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    hop = tmp_path / "hop"
    hop.symlink_to(script)
    os.lchown(hop, 65534, 65534)
    checked = open_script(str(hop), frozenset({0}))
    assert checked.fd is None
    assert checked.reason == f"symlink {hop} not owned by root"
    good = open_script(str(script), frozenset({0}))
    try:
        assert good.fd is not None
        assert Path(f"/proc/self/fd/{good.fd}").resolve() == script
    finally:
        good.close()


def test_a_sticky_directory_is_no_place_for_the_script_itself(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    script = sticky / "s"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    checked = open_script(str(script), ALLOWED)
    assert checked.reason == f"directory {sticky} is world-writable"
