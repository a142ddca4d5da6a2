"""Process life of the real daemon: SIGHUP reloads, sd_notify, validate and test commands."""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys

from lab import host_peer
from lab.netevd import ScriptDirs

TOPOLOGY = host_peer(["10.231.9.1/24"], ["10.231.9.2/24"], gateway="10.231.9.2")


async def test_sighup_picks_up_new_scripts_and_keeps_the_old_config_when_the_new_is_bad(
    lab, netevd, tmp_path
):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    daemon = await netevd(built, scripts)
    proc, config = daemon.proc, daemon.config
    scripts.add("no-carrier")
    proc.send_signal(signal.SIGHUP)
    await proc.wait_for_log(r"config\.reloaded")
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    await scripts.wait_for(STATE="no-carrier", LINK="eth0")
    scripts.add("carrier")
    config.write_text("scripts:\n  timeout: -1\nsystem: [1, 2]\n")
    proc.send_signal(signal.SIGHUP)
    await proc.wait_for_log(r"config\.rejected")
    assert "scripts.timeout: -1 must be a number greater than 0" in proc.output()
    await built.run("peer", "ip", "link", "set", "eth0", "up")
    await scripts.wait_for(STATE="carrier", LINK="eth0", NETEVD_REPLAY="0")
    assert proc.running


async def test_sd_notify_ready_and_stopping(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        # READY=1 waits in the socket's queue while the fixture waits for the ready line
        # JOURNAL_STREAM inherited, while stderr is a pipe: not the journal (see below)
        env = {"NOTIFY_SOCKET": str(path), "JOURNAL_STREAM": "8:1"}
        proc = (await netevd(built, scripts, env=env)).proc
        ready = await asyncio.wait_for(loop.sock_recv(sock, 4096), 20)
        assert ready.startswith(b"READY=1")
        await proc.wait_for_log(r"\bready\b")
        proc.send_signal(signal.SIGTERM)
        stopping = await asyncio.wait_for(loop.sock_recv(sock, 4096), 20)
        assert stopping == b"STOPPING=1"
        assert await proc.wait_exit(15) == 0
    finally:
        sock.close()
    # JOURNAL_STREAM names another file than stderr: timestamps, no journald priority prefix
    # (the journal's own case is in tests/unit/test_logging.py and test_systemd_unit.py)
    assert all(re.match(r"\d{4}-\d\d-\d\d ", line) for _, line in proc.lines if line)


def netevd_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "netevd", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_validate_reports_errors_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("system:\n  backend: foo\napi:\n  port: 70000\n  adress: x\n")
    result = netevd_cli("validate", "--strict", "-c", str(bad))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"netevd: invalid configuration ({bad}):",
        "  system.backend: 'foo' is not allowed; choose one of systemd-networkd, "
        "NetworkManager, dhclient, none, auto",
        "  api.port: 70000 is not a port number (1-65535)",
        "  unknown key api.adress; did you mean api.bind_address?",
    ]
    assert "Traceback" not in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text("routing:\n  policy_rules: [eth1]\n")
    result = netevd_cli("validate", "-c", str(good))
    assert result.returncode == 0
    assert "policy_rules:\n  - eth1" in result.stdout
    assert netevd_cli("validate", "-c", str(tmp_path / "missing.yaml")).returncode == 2
    run = netevd_cli("run", "-c", str(bad))
    assert run.returncode == 2
    assert "system.backend: 'foo' is not allowed" in run.stderr


async def test_the_test_command_runs_a_script_with_a_real_events_environment(lab, tmp_path):
    built = await lab(TOPOLOGY)
    script = tmp_path / "show"
    script.write_text('#!/bin/sh\necho "seen $LINK $STATE $ADDRESSES $GATEWAY"\nexit 3\n')
    script.chmod(0o755)
    result = await built.run(
        "host",
        sys.executable,
        "-m",
        "netevd",
        "test",
        str(script),
        "--interface",
        "eth0",
        "--state",
        "routable",
        check=False,
    )
    assert result.returncode == 1
    assert "LINK=eth0\n" in result.stdout
    assert "BACKEND=kernel\n" in result.stdout
    assert "seen eth0 routable 10.231.9.1 10.231.9.2" in result.stdout
    assert "# exit code 3" in result.stdout
    bad_state = await built.run(
        "host",
        sys.executable,
        "-m",
        "netevd",
        "test",
        str(script),
        "--interface",
        "eth0",
        "--state",
        "../x",
        check=False,
    )
    assert bad_state.returncode == 2
    assert "--state '../x' is not a script directory" in bad_state.stderr
    missing = await built.run(
        "host",
        sys.executable,
        "-m",
        "netevd",
        "test",
        str(script),
        "--interface",
        "nope0",
        "--state",
        "carrier",
        check=False,
    )
    assert missing.returncode == 1
    assert "no interface named 'nope0'" in missing.stderr


async def test_reload_by_pid_signals_only_netevd(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.9.1/24"]))
    daemon = await netevd(built, ScriptDirs(tmp_path / "scripts"))
    done = netevd_cli("reload", "--pid", str(daemon.proc.pid))
    assert done.returncode == 0, done.stderr
    await daemon.proc.wait_for_log(r"config\.reloaded")
    refused = netevd_cli("reload", "--pid", str(os.getpid()))
    assert refused.returncode == 2
    assert refused.stderr == f"netevd: --pid {os.getpid()}: no netevd process has that id\n"
