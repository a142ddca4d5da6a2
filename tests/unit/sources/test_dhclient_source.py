"""DhclientSource on real inotify in temporary directories: snapshot, stream, expiry, garbage,
directories that come and go, and a watcher that fails. (The real dhclient drives it in
tests/integration/test_dhclient_source.py.)"""

import asyncio
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lab.wait import wait_until
from netevd.core.events import LeaseChanged, LeaseLost, SourceStatus
from netevd.core.model import Lease
from netevd.sources.dhclient import source as source_module
from netevd.sources.dhclient.source import DhclientSource
from netevd.telemetry.metrics import Metrics

sys.path.insert(0, str(Path(__file__).parent.parent / "core"))
from dhclient_writer import v4_block


def lease(name: str = "eth0", address: str = "10.0.0.5", ttl: int = 3600) -> Lease:
    return Lease(name, 4, address, 24, "255.255.255.0", ("10.0.0.1",), ("10.0.0.53",),
                 expire=int(time.time()) + ttl)  # fmt: skip


class Run:
    """A source running in a task, its events, and a way to wait on them."""

    def __init__(self, directories, **kwargs):
        self.events = []
        self.source = DhclientSource(self.events.append, directories=directories, **kwargs)
        self.task = None

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    async def wait(self, predicate, timeout=10.0, message=None):
        return await wait_until(predicate, timeout, message=message or (lambda: repr(self.events)))

    async def reads(self, count, timeout=10.0):
        """Until the source has read lease files *count* times (each read is published at once)."""
        await self.wait(lambda: self.source.counts["files.read"] >= count, timeout)


@pytest.fixture
async def start():
    runs = []

    async def starter(directories, **kwargs):
        run = Run([str(d) for d in directories], **kwargs)
        run.task = asyncio.create_task(run.source.run())
        runs.append(run)
        await run.wait(lambda: run.of(SourceStatus))
        return run

    yield starter
    for run in runs:
        run.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run.task


async def test_snapshot_first_then_a_renewal_is_nothing_and_a_change_is_an_event(start, tmp_path):
    first = lease()
    (tmp_path / "dhclient.leases").write_text(v4_block(first))
    run = await start([tmp_path])
    assert run.events == [
        LeaseChanged("eth0", first, None, replay=True),
        SourceStatus("dhclient", True, f"watching {tmp_path}; current leases: 1"),
    ]
    renewed = replace(first, expire=first.expire + 60, renew=first.expire - 60)
    with (tmp_path / "dhclient.leases").open("a") as fh:
        fh.write(v4_block(renewed))
    await run.reads(2)
    assert len(run.events) == 2  # the renewal moved only the timers
    moved = replace(renewed, address="10.0.0.6", dns=("10.0.0.54",))
    with (tmp_path / "dhclient.leases").open("a") as fh:
        fh.write(v4_block(moved))
    await run.wait(lambda: len(run.events) == 3)
    assert run.events[2] == LeaseChanged("eth0", moved, renewed)


async def test_release_expiry_and_removal(start, tmp_path):
    path = tmp_path / "dhclient-eth0.leases"
    path.write_text(v4_block(lease()) + v4_block(lease("eth1", ttl=1)))
    run = await start([tmp_path])
    assert len(run.of(LeaseChanged)) == 2
    # eth1 expires by the timer alone: nothing is written
    await run.wait(lambda: run.of(LeaseLost), timeout=5)
    assert [(e.interface, e.reason) for e in run.of(LeaseLost)] == [("eth1", "expired")]
    now = int(time.time())
    released = replace(lease(), renew=now, rebind=now, expire=now)
    path.write_text(v4_block(lease()) + v4_block(released))  # what dhclient -r leaves
    await run.wait(lambda: len(run.of(LeaseLost)) == 2)
    assert run.of(LeaseLost)[1].reason == "released"
    path.write_text(v4_block(lease(address="10.0.0.7")))
    await run.wait(lambda: len(run.of(LeaseChanged)) == 3)
    path.unlink()
    await run.wait(lambda: len(run.of(LeaseLost)) == 3)
    assert run.of(LeaseLost)[2].reason == "file-removed"
    assert run.source.current == {}


async def test_garbage_never_emits_never_crashes_and_is_counted(start, tmp_path):
    run = await start([tmp_path])
    whole = v4_block(lease("eth9"))
    (tmp_path / "dhclient.eth1.leases").write_text(whole[: len(whole) // 2])
    (tmp_path / "dhclient.eth2.leases").write_bytes(bytes(range(256)) * 64)
    huge = tmp_path / "dhclient.eth3.leases"
    with huge.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: refused by its size, never read
    (tmp_path / "dhclient-$(reboot).leases").write_text(v4_block(lease("e$(reboot)")))
    (tmp_path / "dhclient-eth5.leases").write_text(v4_block(lease('a";id;"')))
    os.mkfifo(tmp_path / "dhclient.eth6.leases")  # opening a FIFO must not hang the source
    (tmp_path / "dhclient.eth7.leases").symlink_to("/etc/hostname")
    counts = run.source.counts
    expected = ("too_large", "incomplete", "not_regular", "unreadable")
    await run.wait(lambda: all(counts[f"refused.{r}"] for r in expected), message=str)
    await run.wait(lambda: counts["problems.invalid"] >= 2 and counts["problems.syntax"])
    (tmp_path / "dhclient.leases").write_text(v4_block(lease()))  # and it still works
    await run.wait(lambda: run.of(LeaseChanged))
    assert [e.interface for e in run.of(LeaseChanged)] == ["eth0"]
    assert run.of(LeaseLost) == []


async def test_a_missing_directory_is_watched_for(start, tmp_path):
    later = tmp_path / "var" / "lib" / "dhclient"
    run = await start([tmp_path / "dhcp", later])
    waiting = f"waiting for {tmp_path / 'dhcp'}, {later}"
    assert run.events[-1].detail == f"watching no lease directory; {waiting}; current leases: 0"
    later.mkdir(parents=True)
    (later / "dhclient-eth0.leases").write_text(v4_block(lease()))
    await run.wait(lambda: run.of(LeaseChanged))
    # the directory going away and coming back is followed too
    (later / "dhclient-eth0.leases").unlink()
    later.rmdir()
    await run.wait(lambda: run.of(LeaseLost))
    later.mkdir()
    (later / "dhclient-eth0.leases").write_text(v4_block(lease(address="10.0.0.8")))
    await run.wait(lambda: len(run.of(LeaseChanged)) == 2)
    assert run.of(LeaseChanged)[1].lease.address == "10.0.0.8"


async def test_a_file_written_during_the_snapshot_is_not_lost(start, tmp_path, monkeypatch):
    real = source_module.list_lease_files

    def listing_then_a_write(directories):
        found = real(directories)
        (tmp_path / "dhclient.leases").write_text(v4_block(lease()))  # after the listing
        return found

    monkeypatch.setattr(source_module, "list_lease_files", listing_then_a_write)
    run = await start([tmp_path])
    await run.wait(lambda: run.of(LeaseChanged))
    assert run.of(LeaseChanged)[0].replay is False  # it came from the watch, not the listing


async def test_a_failing_watcher_is_retried_with_backoff(start, tmp_path, monkeypatch):
    real = source_module._subscribe
    failures = []

    def flaky(paths):
        if len(failures) < 2:
            failures.append(paths)
            raise OSError(28, "inotify watch limit reached")
        return real(paths)

    monkeypatch.setattr(source_module, "_subscribe", flaky)
    metrics = Metrics()
    run = await start([tmp_path], metrics=metrics)
    await run.wait(lambda: any(s.up for s in run.of(SourceStatus)))
    status = run.of(SourceStatus)
    assert [s.up for s in status] == [False, True]
    assert "inotify watch limit reached" in status[0].detail
    assert run.source.counts["restarts"] == 2
    (tmp_path / "dhclient.leases").write_text(v4_block(lease()))
    await run.wait(lambda: run.of(LeaseChanged))
    exposition = metrics.exposition().decode()
    assert 'netevd_source_reconnects_total{source="dhclient"} 2.0' in exposition


async def test_refusals_reach_the_metrics(start, tmp_path):
    metrics = Metrics()
    run = await start([tmp_path], metrics=metrics, max_file_size=100)
    (tmp_path / "dhclient.leases").write_text(v4_block(lease()))
    await run.wait(lambda: run.source.counts["refused.too_large"])
    text = metrics.exposition().decode()
    assert 'netevd_lease_files_refused_total{reason="too_large"} 1.0' in text
    assert run.of(LeaseChanged) == []
