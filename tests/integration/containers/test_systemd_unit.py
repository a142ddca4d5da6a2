"""systemd/netevd.service booted by a real systemd (PID 1 of a podman container).

``--cap-add SYS_ADMIN`` lets systemd build the unit's mount namespace (without it every
ProtectSystem=/PrivateTmp=/... line is skipped silently); ``NET_ADMIN`` is what the unit
hands to netevd. The container joins a lab namespace, never podman's own network. Scripts come
from the host as the vendor directory /usr/lib/netevd and record into /srv/netevd-runs, which
a drop-in opens for writing: the documented way to loosen the sandbox.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from container_support import add_recorder, evidence

from lab import Lab, Topology, wait_until
from lab.containers.podman import Podman, PodmanObjects
from lab.netevd import ScriptDirs

# The first test of a session may build the base (debootstrap) and the images: minutes, cold.
pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[3]
RUNS = "/srv/netevd-runs"
TABLE = 210
HOST_V4 = "10.231.41.2"
DIRS = ("carrier", "no-carrier", "routable", "routes")  # some of what tmpfiles makes
NET_ADMIN = "0000000000001000"
# Besides its environment, each run records who it is, what it may do, and the sandbox.
SANDBOX = """
grep -E "^(Uid|CapEff|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status > "$f.status"
touch /netevd-probe 2> "$f.root"; echo "exit=$?" >> "$f.root"
echo private > /tmp/netevd-probe; echo "exit=$?" > "$f.private-tmp"
"""
# A script that fails: netevd logs script.failed at warning level (its output at info).
FAILING = "#!/bin/sh\necho 'cannot reach the monitoring host'\nexit 3\n"


def topology() -> Topology:
    topo = Topology().add_netns("host").add_netns("peer")
    topo.add_veth("eth0", "host", "eth0", "peer", index=10, peer_index=11)
    topo.add_address("host", "eth0", f"{HOST_V4}/24")
    topo.add_address("peer", "eth0", "10.231.41.1/24")
    topo.add_route("host", "default", via="10.231.41.1")
    return topo


@dataclass
class Booted:
    podman: Podman
    cid: str
    scripts: ScriptDirs
    config: Path

    async def ash(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return await self.podman.arun("exec", self.cid, *argv, check=check)

    async def show(self, *props: str, check: bool = True) -> dict[str, str]:
        args = [f"--property={p}" for p in props]
        out = (await self.ash("systemctl", "show", *args, "netevd.service", check=check)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    async def journal(self, *args: str) -> str:
        argv = ("journalctl", "--unit=netevd", "--output=cat", "--no-pager", *args)
        return (await self.ash(*argv)).stdout

    async def wait_journal(self, pattern: str, count: int = 1, timeout: float = 20) -> str:
        async def enough() -> str | None:
            text = await self.journal()
            return text if len(re.findall(pattern, text, re.MULTILINE)) >= count else None

        return await wait_until(enough, timeout, message=f"{count} journal line(s) {pattern!r}")

    async def wait_active(self, timeout: float = 30) -> dict[str, str]:
        async def active() -> dict[str, str] | None:
            # (fails while systemd is still starting: not yet listening on its socket)
            props = await self.show("ActiveState", "SubState", "MainPID", "NRestarts", check=False)
            running = props.get("ActiveState") == "active" and props.get("SubState") == "running"
            return props if running else None

        return await wait_until(active, timeout, message="netevd.service active (running)")


async def boot(lab, tmp_path, podman, objects: PodmanObjects, image: str) -> tuple[Lab, Booted]:
    built = await lab(topology())
    scripts = ScriptDirs(tmp_path / "vendor")  # runs land in vendor-runs, mounted at RUNS
    for state in ("carrier", "no-carrier"):
        add_recorder(scripts, state, SANDBOX, out=RUNS)
    scripts.add_raw("carrier", "60-fail", FAILING)
    config = tmp_path / "netevd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "system": {"backend": "none", "log_level": "debug"},
                "routing": {"policy_rules": ["eth0"]},
                "monitoring": {"exclude": ["lo"]},
            }
        )
    )
    dropin = tmp_path / "dropin"
    dropin.mkdir()
    (dropin / "50-test-runs.conf").write_text(f"[Service]\nReadWritePaths={RUNS}\n")
    run = await podman.arun(
        *("run", "--detach", "--systemd=always", "--cap-add=NET_ADMIN,SYS_ADMIN"),
        f"--network=ns:/run/netns/{built.ns('host')}",
        f"--label={objects.selectors[0]}",
        f"--volume={config}:/etc/netevd/netevd.yaml:ro",
        f"--volume={scripts.root}:/usr/lib/netevd:ro",
        f"--volume={scripts.out}:{RUNS}",
        f"--volume={dropin}:/etc/systemd/system/netevd.service.d:ro",
        image,
    )
    return built, Booted(podman, run.stdout.strip(), scripts, config)


def status_fields(text: str) -> dict[str, str]:
    """``/proc/PID/status`` as {field: first value}."""
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key: value.split()[0] for key, value in pairs if value.strip()}


async def documented_exposure() -> float:
    text = (REPO / "docs" / "deployment.md").read_text()
    (figure,) = re.findall(r"exposure level \*\*(\d+\.\d)\*\*", text)
    return float(figure)


async def test_unit_boots_as_a_notify_service_with_its_user_limits_and_directories(
    lab, tmp_path, systemd_image, podman, podman_objects
):
    _, unit = await boot(lab, tmp_path, podman, podman_objects, systemd_image)
    props = await unit.wait_active()
    status = (await unit.ash("systemctl", "status", "--no-pager", "netevd", check=False)).stdout
    assert "Active: active (running)" in status
    assert 'Status: "watching"' in status  # sd_notify's STATUS=, sent with READY=1
    assert (await unit.show("Type", "NRestarts")) == {"Type": "notify", "NRestarts": "0"}
    # sysusers made the user at boot (the image has none); the daemon runs as it, NET_ADMIN only
    absent = await podman.arun(
        *("run", "--rm", "--network=none", "--entrypoint=getent", systemd_image),
        *("passwd", "netevd"),
        check=False,
    )
    assert absent.returncode == 2
    uid = (await unit.ash("id", "-u", "netevd")).stdout.strip()
    daemon = status_fields((await unit.ash("cat", f"/proc/{props['MainPID']}/status")).stdout)
    assert (daemon["Uid"], daemon["CapEff"], daemon["CapBnd"]) == (uid, NET_ADMIN, NET_ADMIN)
    # LimitNOFILE=65536, clamped to the container's hard limit (systemd's default soft: 1024)
    limits = (await unit.ash("cat", f"/proc/{props['MainPID']}/limits")).stdout
    soft, hard = re.findall(r"Max open files\s+(\d+)\s+(\d+)", limits)[0]
    assert int(soft) == min(65536, int(hard))
    assert int(soft) > 1024
    # tmpfiles made the script directories: root's, writable by nobody else
    stat = await unit.ash("stat", "-c", "%n %U:%G %a", *(f"/etc/netevd/{d}.d" for d in DIRS))
    assert stat.stdout.splitlines() == [f"/etc/netevd/{d}.d root:root 755" for d in DIRS]
    await journal_priorities(unit)
    # systemctl stop: SIGTERM, a clean exit
    await unit.ash("systemctl", "stop", "netevd")
    assert (await unit.show("ActiveState", "Result")) == {
        "ActiveState": "inactive",
        "Result": "success",
    }
    assert re.search(r"^level=INFO stopped$", await unit.journal(), re.MULTILINE)


async def journal_priorities(unit: Booted) -> None:
    """netevd's levels are the journal's priorities (the sd-daemon(3) prefixes): `-p warning`
    shows the failed script's warning and none of the info lines around it."""
    await unit.wait_journal(r"^level=WARNING script\.failed link=eth0 .* exit=3 ")
    await unit.wait_journal(r"^level=INFO script\.output .*cannot reach the monitoring host")
    warnings = (await unit.journal("--priority=warning")).splitlines()
    assert any(re.match(r"level=WARNING script\.failed link=eth0 .* exit=3 ", w) for w in warnings)
    assert [w for w in warnings if not w.startswith("level=WARNING")] == []
    infos = (await unit.journal("--priority=info")).splitlines()
    assert any(line.startswith("level=INFO ready ") for line in infos)
    entries = await unit.ash("journalctl", "--unit=netevd", "--output=json", "--no-pager")

    def priority(start: str) -> str:
        for line in entries.stdout.splitlines():
            entry = json.loads(line)
            if str(entry.get("MESSAGE", "")).startswith(start):
                return str(entry["PRIORITY"])
        raise AssertionError(f"no journal entry starting with {start!r}")

    assert priority("level=INFO ready ") == "6"
    assert priority("level=WARNING script.failed") == "4"


async def test_scripts_run_inside_the_units_sandbox(
    lab, tmp_path, systemd_image, podman, podman_objects
):
    built, unit = await boot(lab, tmp_path, podman, podman_objects, systemd_image)
    await unit.wait_active()
    uid = (await unit.ash("id", "-u", "netevd")).stdout.strip()
    (replay,) = await unit.scripts.wait_for(STATE="carrier", NETEVD_REPLAY="1")
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    (lost,) = await unit.scripts.wait_for(STATE="no-carrier", LINK="eth0")
    for run in (replay, lost):
        assert run.env["BACKEND"] == "kernel"
        assert "Read-only file system" in evidence(unit.scripts, run.script, "root")
        assert evidence(unit.scripts, run.script, "private-tmp") == "exit=0\n"  # its own /tmp
        assert status_fields(evidence(unit.scripts, run.script, "status")) == {
            "Uid": uid,
            "CapEff": "0000000000000000",
            "CapAmb": "0000000000000000",
            "NoNewPrivs": "1",
            "Seccomp": "2",  # SystemCallFilter=
        }
    # PrivateTmp: what the script wrote is not in the system's /tmp
    assert (await unit.ash("test", "-e", "/tmp/netevd-probe", check=False)).returncode == 1
    # ...while the daemon itself did its job with CAP_NET_ADMIN
    rules = (await built.run("host", "ip", "rule", "show", "table", str(TABLE))).stdout
    assert f"from {HOST_V4} lookup {TABLE} proto 78" in rules


async def test_unit_file_verifies_and_has_the_documented_exposure(
    lab, tmp_path, systemd_image, podman, podman_objects
):
    _, unit = await boot(lab, tmp_path, podman, podman_objects, systemd_image)
    await unit.wait_active()
    verify = await unit.ash("systemd-analyze", "verify", "netevd.service", check=False)
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", "")
    path = "/usr/lib/systemd/system/netevd.service"
    security = await unit.ash("systemd-analyze", "security", "--offline=true", path)
    (figure,) = re.findall(
        r"Overall exposure level for netevd\.service: (\d+\.\d)", security.stdout
    )
    assert float(figure) <= 2.0
    assert float(figure) == await documented_exposure()


async def test_unit_reloads_without_procps_and_restarts_after_kill(
    lab, tmp_path, systemd_image, podman, podman_objects
):
    _, unit = await boot(lab, tmp_path, podman, podman_objects, systemd_image)
    before = await unit.wait_active()
    no_kill = await unit.ash("test", "-e", "/bin/kill", check=False)
    assert no_kill.returncode == 1  # no procps in this image
    good = unit.config.read_text()
    # reload: SIGHUP sent by `netevd reload --pid $MAINPID`; same process, configuration re-read
    await unit.ash("systemctl", "reload", "netevd")
    await unit.wait_journal(r"^level=INFO config\.reloaded ")
    # a broken configuration: reload still succeeds (asynchronous), netevd keeps the old one
    unit.config.write_text("system: {backend: carrier-pigeon}\n")
    await unit.ash("systemctl", "reload", "netevd")
    await unit.wait_journal(r"^level=ERROR config\.rejected ")
    after = await unit.show("MainPID", "NRestarts", "ActiveState")
    assert after == {"MainPID": before["MainPID"], "NRestarts": "0", "ActiveState": "active"}
    unit.config.write_text(good)
    # kill -9 of the main process: Restart=on-failure brings it back (after RestartSec=2)
    await unit.ash("systemctl", "kill", "--signal=SIGKILL", "--kill-who=main", "netevd")
    await unit.wait_journal(r"^netevd\.service: Main process exited, code=killed, status=9/KILL$")

    async def restarted() -> dict[str, str] | None:
        props = await unit.wait_active()
        return props if props["NRestarts"] == "1" else None

    again = await wait_until(restarted, 20, message="netevd.service restarted once")
    assert again["MainPID"] != before["MainPID"]
