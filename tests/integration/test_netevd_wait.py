"""``netevd wait`` against the real daemon (its event stream) and, with no daemon, the kernel."""

import sys

from lab import host_peer
from lab.netevd import ScriptDirs
from lab.process import ManagedProcess

WAIT = [sys.executable, "-m", "netevd", "wait"]


async def run_wait(built, ns, *args, timeout=30.0):
    result = await built.run(ns, *WAIT, *args, check=False, timeout=timeout)
    return result.returncode, result.stderr


async def start_wait(built, ns, *args):
    proc = ManagedProcess([*WAIT, *args], netns=built.ns(ns), name=f"wait[{ns}]")
    return await built.start_process(proc)


async def test_with_the_daemon_it_waits_for_the_level_and_exits_at_once_when_it_holds(
    lab, netevd, tmp_path
):
    built = await lab(host_peer(peer=["10.231.9.2/24"]))
    await netevd(built, ScriptDirs(tmp_path / "scripts"), api=True)

    assert await run_wait(built, "host", "-i", "eth0", "-s", "carrier") == (0, "")
    code, err = await run_wait(built, "host", "-i", "eth0", "-t", "0.5")
    assert code == 1
    assert err == "netevd: timed out after 0.5s: not routable: eth0 is degraded\n"  # fe80::

    waiting = await start_wait(built, "host", "-i", "eth0", "-s", "routable", "-t", "30")
    assert waiting.running  # still waiting: eth0 has only its link-local address
    await built.run("host", "ip", "addr", "add", "10.231.9.1/24", "dev", "eth0")
    assert await waiting.wait_exit(20) == 0
    assert "watching the kernel" not in waiting.output()  # the daemon answered


async def test_without_a_daemon_it_watches_the_kernel(lab):
    built = await lab(host_peer())
    waiting = await start_wait(built, "peer", "-i", "eth0", "-s", "degraded", "-t", "30")
    await waiting.wait_for_log("watching the kernel directly", timeout=15)
    await built.run("peer", "ip", "-6", "addr", "add", "fd00:231:9::2/64", "dev", "eth0", "nodad")
    assert await waiting.wait_exit(20) == 0
    code, err = await run_wait(built, "peer", "-s", "activated", "-t", "5")
    assert code == 2
    assert err.endswith("it needs the running daemon (start netevd, or give --endpoint)\n")


async def test_usage_errors_exit_2(lab):
    built = await lab(host_peer())
    code, err = await run_wait(built, "host", "-s", "routes")
    assert code == 2
    assert "argument -s/--state: invalid choice: 'routes'" in err
    code, err = await run_wait(built, "host", "-t", "-1")
    assert code == 2
    assert "'-1' is not a number of seconds from 0 to 86400" in err
