"""ManagedProcess on real tiny programs (no root needed)."""

import os
import sys

import pytest

from lab import ManagedProcess, ProcessExited, WaitTimeout


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_wait_for_log_sees_both_streams():
    code = "import sys; print('out-line', flush=True); print('err 42', file=sys.stderr, flush=True)"
    async with ManagedProcess([sys.executable, "-c", code + "; import time; time.sleep(60)"]) as p:
        assert (await p.wait_for_log(r"err (\d+)", stream="stderr")).group(1) == "42"
        await p.wait_for_log("out-line", stream="stdout")
    assert p.returncode is not None


async def test_stop_kills_the_whole_group_and_reaps(tmp_path):
    pidfile = tmp_path / "grandchild"
    script = f"sleep 300 & echo $! > {pidfile}; echo started; wait"
    proc = ManagedProcess(["sh", "-c", script])
    await proc.start()
    await proc.wait_for_log("started")
    grandchild = int(pidfile.read_text())
    assert alive(grandchild)
    await proc.stop(grace=2)
    assert not alive(proc.pid)
    assert not alive(grandchild)
    with pytest.raises(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)


async def test_stop_escalates_to_sigkill():
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = ManagedProcess([sys.executable, "-c", code])
    await proc.start()
    await proc.wait_for_log("ready")
    assert await proc.stop(grace=0.3) == -9


async def test_timeout_message_carries_the_output():
    async with ManagedProcess(["sh", "-c", "echo hello; sleep 30"], name="greeter") as p:
        with pytest.raises(WaitTimeout) as info:
            await p.wait_for_log("goodbye", timeout=0.3)
    assert str(info.value).startswith("greeter: no line matching 'goodbye' within 0.3s")
    assert "[stdout] hello" in str(info.value)


async def test_exit_while_waiting_is_reported():
    async with ManagedProcess(["sh", "-c", "echo bye; exit 3"], name="quitter") as p:
        with pytest.raises(ProcessExited, match=r"quitter exited \(code 3\)"):
            await p.wait_for_log("never", timeout=10)
    assert p.returncode == 3


async def test_wait_until_and_missing_binary(tmp_path):
    marker = tmp_path / "m"
    async with ManagedProcess(["sh", "-c", f"touch {marker}; sleep 30"]) as p:
        assert await p.wait_until(marker.exists, timeout=5)
    with pytest.raises(Exception, match="cannot start no-such"):
        await ManagedProcess(["/nonexistent/no-such"], name="no-such").start()
