"""The state file: its format version, the older format read, unknown ones refused, and a
state_dir that will not take a write (full, read-only) degrading netevd rather than stopping it."""

import json
import logging

import pytest

from netevd.executors import state_file
from netevd.executors.state_file import FORMAT_VERSION, TablesFile, load_tables, save_tables
from netevd.telemetry.metrics import Metrics


def test_each_file_carries_its_format_version(tmp_path):
    save_tables(tmp_path, {"eth1": 201})
    assert json.loads((tmp_path / "tables.json").read_text()) == {
        "version": FORMAT_VERSION,
        "tables": {"eth1": 201},
    }
    assert load_tables(str(tmp_path)) == ({"eth1": 201}, [])


def test_the_unversioned_format_is_read_with_a_note(tmp_path):
    (tmp_path / "tables.json").write_text('{"eth1": 201, "eth2": 202}')
    tables, problems = load_tables(str(tmp_path))
    assert tables == {"eth1": 201, "eth2": 202}
    assert problems == [
        f"{tmp_path}/tables.json: format 0 (no version) read; it is rewritten as format 1 "
        "on next save"
    ]


@pytest.mark.parametrize("version", [2, "1", None, 0])
def test_an_unknown_format_version_is_refused_by_name(tmp_path, version):
    (tmp_path / "tables.json").write_text(json.dumps({"version": version, "tables": {"e": 201}}))
    assert load_tables(str(tmp_path)) == (
        {},
        [
            f"{tmp_path}/tables.json: format version {version!r} is not one this netevd reads "
            "(1); refused: starting without remembered tables"
        ],
    )


def test_a_file_that_is_no_object_is_refused(tmp_path):
    (tmp_path / "tables.json").write_text("[201]")
    assert load_tables(str(tmp_path))[0] == {}


async def test_failed_writes_are_logged_once_counted_and_retried_until_they_land(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(state_file, "RETRY_FIRST", 0.01)
    real, failing = state_file.save_tables, [True]

    def save(state_dir, tables):
        if failing[0]:
            raise OSError(28, "No space left on device")
        real(state_dir, tables)

    monkeypatch.setattr(state_file, "save_tables", save)
    metrics = Metrics()
    writer = TablesFile(tmp_path, metrics)
    with caplog.at_level(logging.INFO, logger="netevd.state"):
        await writer.save({"eth1": 201})
        await writer.save({"eth1": 201, "eth2": 202})
        assert writer.problem == f"cannot write {tmp_path}/tables.json: No space left on device"
        assert metrics.state_write_failures._value.get() == 2
        failing[0] = False
        assert writer._retry is not None
        await writer._retry
    failed = [r for r in caplog.records if "state.write.failed" in r.getMessage()]
    assert len(failed) == 1
    assert writer.problem is None
    assert load_tables(str(tmp_path))[0] == {"eth1": 201, "eth2": 202}  # the newest tables
    assert any("state.write.recovered" in r.getMessage() for r in caplog.records)


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def replace(src, dst):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(state_file.os, "replace", replace)
    with pytest.raises(OSError, match="Read-only"):
        save_tables(tmp_path, {"eth1": 201})
    assert list(tmp_path.iterdir()) == []


async def test_writes_in_flight_land_in_order_the_newest_last(tmp_path, monkeypatch):
    import asyncio

    real, order = state_file.save_tables, []

    def recording(state_dir, tables):
        order.append(dict(tables))
        real(state_dir, tables)

    monkeypatch.setattr(state_file, "save_tables", recording)
    writer = TablesFile(tmp_path, Metrics())
    await asyncio.gather(writer.save({"eth1": 201}), writer.save({"eth1": 202}))
    assert load_tables(str(tmp_path))[0] == {"eth1": 202}
    assert order[-1] == {"eth1": 202}
