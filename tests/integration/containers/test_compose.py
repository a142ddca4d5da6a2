"""compose.yaml, brought up by podman-compose >= 1.6 (PyPI) on the image already built.

An override file joins the container to a lab namespace and replaces the host mounts
(``volumes: !override``); ``up -d --no-build`` (no registry here for a build's base). The
Debian package's podman-compose 1.0.3 is never called: it adds a bridge network whatever
the file says. The test proves no network was created.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab import Topology
from lab.containers.podman import Podman
from lab.netevd import ScriptDirs, write_config

# The first test of a session may build the base (debootstrap) and the images: minutes, cold.
pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[3]
COMPOSE = Path(sys.executable).with_name("podman-compose")  # the venv's, from PyPI


def topology() -> Topology:
    topo = Topology().add_netns("host").add_netns("peer")
    topo.add_veth("eth0", "host", "eth0", "peer", index=10, peer_index=11)
    return topo.add_address("host", "eth0", "10.231.42.2/24")


def override(netns: str, image: str, labels: dict[str, str], etc: ScriptDirs) -> str:
    """The test's compose override; ``!override`` replaces the service's volume list (in
    the short syntax: podman-compose 1.6 mangles long-syntax entries under ``!override``)."""
    volumes = [f"{etc.root}:/etc/netevd:ro", f"{etc.out}:{etc.out}", "netevd-state:/var/lib/netevd"]
    service = {
        "image": image,
        "network_mode": f"ns:/run/netns/{netns}",
        "labels": labels,
        "healthcheck": {"disable": True},  # podman's healthchecks need systemd as PID 1
        "volumes": volumes,
    }
    text = yaml.safe_dump({"services": {"netevd": service}}, sort_keys=False)
    return text.replace("  volumes:\n", "  volumes: !override\n", 1)


def compose(podman: Podman, project: str, files: list[Path], *args: str) -> str:
    argv = [str(COMPOSE), "--project-name", project]
    for path in files:
        argv += ["--file", str(path)]
    result = subprocess.run(
        [*argv, *args], env=podman.env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"podman-compose {args}: {result.stdout}\n{result.stderr}"
    return result.stdout


def compose_version() -> tuple[int, ...]:
    out = subprocess.run([str(COMPOSE), "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"podman-compose version (\d+)\.(\d+)", out.stdout)
    assert found, out.stdout
    return (int(found[1]), int(found[2]))


async def test_compose_up_in_a_lab_namespace_then_down(
    lab, tmp_path, netevd_image, podman, podman_objects
):
    assert compose_version() >= (1, 6)
    built = await lab(topology())
    etc = ScriptDirs(tmp_path / "etc")
    etc.add("carrier")
    write_config(etc.root / "netevd.yaml", {"system": {"backend": "none"}}).chmod(0o644)
    files = [REPO / "compose.yaml", tmp_path / "compose.override.yaml"]
    files[1].write_text(override(built.ns("host"), netevd_image, podman_objects.labels, etc))
    project = podman_objects.owner.replace("-", "") + "compose"
    podman_objects.add_selector(f"io.podman.compose.project={project}")
    networks = podman.network_names()
    compose(podman, project, files, "up", "--detach", "--no-build")
    (cid,) = podman_objects.containers()
    (run,) = await etc.wait_for(STATE="carrier", LINK="eth0", NETEVD_REPLAY="1")
    assert run.env["ADDRESSES"] == "10.231.42.2"
    (inspect,) = json.loads((await podman.arun("container", "inspect", cid)).stdout)
    host = inspect["HostConfig"]
    assert host["NetworkMode"] == f"ns:/run/netns/{built.ns('host')}"
    assert (host["ReadonlyRootfs"], host["CapAdd"]) == (True, ["CAP_NET_ADMIN"])
    assert "no-new-privileges" in host["SecurityOpt"]
    volumes = {m["Destination"]: m.get("Name") for m in inspect["Mounts"]}
    assert volumes["/var/lib/netevd"] == f"{project}_netevd-state"
    status = await podman.arun("exec", cid, "netevd", "status", "--format", "json")
    assert json.loads(status.stdout)["ready"] is True
    assert podman.network_names() == networks  # no bridge network, no podman network at all
    compose(podman, project, files, "down", "--volumes")
    assert (podman_objects.containers(), podman_objects.volumes()) == ([], [])


def test_compose_file_creates_nothing_where_its_host_paths_are_missing(tmp_path, podman):
    """compose.yaml's binds, pointed at paths this host lacks: an error, and nothing made."""
    missing = {"/etc/netevd": tmp_path / "etc-netevd", "/run/dbus": tmp_path / "run-dbus"}
    text = (REPO / "compose.yaml").read_text()
    for source, stand_in in missing.items():
        text, count = re.subn(
            rf"source: {re.escape(source)}$", f"source: {stand_in}", text, flags=re.M
        )
        assert count == 1, source
    (tmp_path / "compose.yaml").write_text(text)
    project = f"nvdry{tmp_path.name[-6:].replace('_', '')}"
    argv = [
        str(COMPOSE),
        "--dry-run",
        "--project-name",
        project,
        "--file",
        str(tmp_path / "compose.yaml"),
    ]
    result = subprocess.run(
        [*argv, "up", "--detach", "--no-build"],
        env=podman.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert f"bind source path does not exist: {missing['/etc/netevd']}" in result.stderr
    assert not any(path.exists() for path in missing.values())
    assert podman.run("volume", "exists", f"{project}_netevd-state", check=False).returncode == 1
