"""Chaos: the configuration file replaced with garbage and ``netevd reload`` sent.

The old configuration is kept (scripts still run as before), the error names the line or the
key, /health shows the failed reload (degraded); a good file then reloads and /health is healthy.
"""

import sys

from chaos_support import health

from lab import host_peer
from lab.netevd import ScriptDirs, netevd_config, write_config

TOPOLOGY = host_peer(["10.231.83.1/24"], ["10.231.83.2/24"])


async def reload(built) -> tuple[int, str]:
    """``netevd reload`` in the daemon's namespace: (exit code, what it printed)."""
    done = await built.run(
        "host",
        sys.executable,
        "-m",
        "netevd",
        "reload",
        "--endpoint",
        "http://127.0.0.1:9090",
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


async def test_garbage_config_is_refused_and_the_old_one_kept(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    scripts = ScriptDirs(tmp_path / "scripts")
    scripts.add("no-carrier")
    scripts.add("carrier")
    daemon = await netevd(built, scripts, api=True)
    good = daemon.config.read_text()
    # garbage: not YAML at all
    daemon.config.write_bytes(b"system: [backend: none\n\x00\xff scripts: {{{\n")
    code, text = await reload(built)
    assert code != 0
    assert "line" in text, text  # where the file stops being YAML
    await daemon.proc.wait_for_log(r"config\.rejected")
    status, data = await health(daemon.http)
    assert (status, data["status"], data["degraded"]) == (200, "degraded", ["reload"])
    assert data["checks"]["reload"].startswith("last reload refused")
    # a wrong value: the error names the key, the value and what is allowed
    config = netevd_config(scripts, api={"enabled": True, "bind_address": "127.0.0.1"})
    config["scripts"]["timeout"] = -5
    write_config(daemon.config, config)
    code, text = await reload(built)
    assert code != 0
    assert "scripts.timeout" in text, text
    assert "scripts.timeout" in (await health(daemon.http))[1]["checks"]["reload"]
    # the old configuration still runs the scripts
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    await scripts.wait_for(STATE="no-carrier", LINK="eth0")
    # a good file reloads, and /health is healthy again
    daemon.config.write_text(good)
    code, text = await reload(built)
    assert code == 0, text
    status, data = await health(daemon.http)
    assert (status, data["status"], data["degraded"]) == (200, "healthy", [])
    await built.run("peer", "ip", "link", "set", "eth0", "up")
    await scripts.wait_for(STATE="carrier", LINK="eth0", NETEVD_REPLAY="0")
    assert daemon.proc.running
    assert "Traceback" not in daemon.proc.output()
