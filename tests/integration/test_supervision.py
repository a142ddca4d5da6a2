"""Supervision of the real daemon: a source that fails unexpectedly is restarted (and /health says
so while it is down, and nothing it missed is lost); one that cannot come back ends the daemon
with exit code 1. The failure is injected with NETEVD_TEST_FAULT (netevd/faults.py): SIGUSR2
makes the netlink source raise, and holds its restart until the next SIGUSR2."""

import signal

from lab import host_peer
from lab.netevd import ScriptDirs

FAULT = "NETEVD_TEST_FAULT"


async def _health(api):
    status, body = await api.get("/health")
    return status, body["data"]


async def test_a_crashed_source_is_restarted_and_replays_what_it_missed(
    lab, netevd, tmp_path, wait_until
):
    built = await lab(host_peer(["10.231.9.1/24"], ["10.231.9.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("no-carrier")
    daemon = await netevd(built, scripts, api=True, env={FAULT: "netlink"})
    api = daemon.http
    assert (await _health(api))[0] == 200

    daemon.proc.send_signal(signal.SIGUSR2)  # the netlink source raises; its restart is held

    async def down():
        status, data = await _health(api)
        return status == 503 and data["checks"]["source:netlink"] == "down" and data

    data = await wait_until(down, 10, message="/health to name the crashed source")
    assert data["failing"] == ["source:netlink"]
    started, record = await api.data("/api/v1/events", params={"type": "source"})
    assert started["detail"] == {"up": True, "detail": "startup"}
    assert record["source"] == "netlink"
    assert record["detail"]["up"] is False
    assert record["detail"]["detail"].startswith("crashed: InjectedFault: injected fault;")
    await daemon.proc.wait_for_log(r"source\.crashed source=netlink")
    await daemon.proc.wait_for_log(r"source\.restart source=netlink attempt=1")

    # While the source is down the carrier goes: nobody hears it, yet nothing may be lost.
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    assert scripts.matching(STATE="no-carrier") == []

    daemon.proc.send_signal(signal.SIGUSR2)  # let the restarted source go

    async def healthy():
        return (await _health(api))[0] == 200

    await wait_until(healthy, 10, message="/health to recover")
    (run,) = await scripts.wait_for(STATE="no-carrier", LINK="eth0")
    assert run.env["EVENT"] == "resync"  # the restart's re-dump found what was missed
    metrics = await api.metrics()
    assert metrics.total("netevd_source_restarts_total", source="netlink") == 1
    assert metrics.total("netevd_source_up", source="netlink") == 1
    kinds = [e["detail"]["up"] for e in await api.data("/api/v1/events", params={"type": "source"})]
    assert kinds == [True, False, True]  # started, crashed, back (after a resync)
    assert daemon.proc.running


async def test_a_source_that_cannot_come_back_ends_the_daemon_with_exit_code_1(
    lab, netevd, tmp_path
):
    built = await lab(host_peer(["10.231.9.1/24"], ["10.231.9.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    daemon = await netevd(built, scripts, env={FAULT: "netlink:always"})

    daemon.proc.send_signal(signal.SIGUSR2)  # fails now, and every restart fails at once

    assert await daemon.proc.wait_exit(30) == 1
    output = daemon.proc.output()
    assert "source.restart source=netlink attempt=5" in output
    assert "supervisor.fatal source netlink gave up after 6 failures in a row" in output
    assert "stopped" in output  # an orderly stop, not a crash
