"""The netevd image, run with testcontainers on podman's API inside a lab namespace.

The container joins the lab namespace ``host`` (never podman's own network); configuration and
scripts are bind-mounted; events come from the other end of a veth pair in namespace ``peer``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from container_support import add_recorder, evidence
from testcontainers.core.container import DockerContainer

from lab import Topology, wait_until
from lab.containers.podman import Podman, PodmanObjects, conmon_pids
from lab.netevd import ScriptDirs, write_config

# The first test of a session may build the base (debootstrap) and the images: minutes, cold.
pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[3]
DAEMONSET = REPO / "deploy" / "kubernetes" / "daemonset.yaml"
HOST_V4, GATEWAY_V4 = "10.231.40.2", "10.231.40.1"
TABLE = 210  # table_base 200 + ifindex 10
NETEVD_UID = "990"
# What a script records besides its environment: who it runs as and what it may do.
STATUS = 'grep -E "^(Uid|CapEff|CapPrm|CapAmb|NoNewPrivs):" /proc/self/status > "$f.status"'


def topology() -> Topology:
    topo = Topology().add_netns("host").add_netns("peer")
    topo.add_veth("eth0", "host", "eth0", "peer", index=10, peer_index=11)
    topo.add_address("host", "eth0", f"{HOST_V4}/24")
    topo.add_address("peer", "eth0", f"{GATEWAY_V4}/24")
    topo.add_route("host", "default", via=GATEWAY_V4)
    return topo


def config() -> dict[str, Any]:
    return {
        "system": {"backend": "none", "log_level": "debug"},
        "routing": {"policy_rules": ["eth0"]},
        "monitoring": {"exclude": ["lo"]},
    }


class NetevdContainer:
    """A testcontainers container with the async waits these tests need."""

    def __init__(
        self,
        image: str,
        netns: str,
        objects: PodmanObjects,
        *,
        mounts: dict[str, tuple[str, str]],
        tmpfs: dict[str, str],
        command: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.tc = DockerContainer(image, command=command)
        for source, (target, mode) in mounts.items():  # a host path or a volume name
            self.tc.with_volume_mapping(source, target, mode)
        for target, options in tmpfs.items():
            self.tc.with_tmpfs_mount(target, options or None)
        self.tc.with_kwargs(
            network_mode=f"ns:/run/netns/{netns}",
            labels=objects.labels,
            # podman runs healthchecks from systemd timers; this host's PID 1 is not systemd
            healthcheck={"test": ["NONE"]},
            **kwargs,
        )

    async def start(self) -> NetevdContainer:
        await asyncio.to_thread(self.tc.start)
        return self

    @property
    def id(self) -> str:
        return self.tc.get_container_id()

    async def logs(self) -> str:
        out, err = await asyncio.to_thread(self.tc.get_logs)
        return (out + err).decode(errors="replace")

    async def wait_for_log(self, pattern: str, timeout: float = 20.0) -> str:
        async def seen() -> str | None:
            text = await self.logs()
            return text if re.search(pattern, text, re.MULTILINE) else None

        return await wait_until(seen, timeout, message=f"container log line {pattern!r}")

    async def exec(self, *argv: str) -> tuple[int, str]:
        result = await asyncio.to_thread(self.tc.exec, list(argv))
        return result.exit_code, result.output.decode(errors="replace")

    async def stop(self, timeout: int = 30) -> int:
        """What ``podman stop`` does: SIGTERM (the image's STOPSIGNAL), then wait for the exit."""
        wrapped = self.tc.get_wrapped_container()
        await asyncio.to_thread(wrapped.stop, timeout=timeout)
        return int((await asyncio.to_thread(wrapped.wait))["StatusCode"])


def script_status(scripts: ScriptDirs, run_file: str) -> dict[str, str]:
    text = evidence(scripts, run_file, "status")
    return {k: v.split()[0] for k, v in (line.split(":", 1) for line in text.splitlines())}


async def daemon_process(podman: Podman, cid: str) -> list[str]:
    """[uid, effective caps, bounding caps] of the netevd process (not tini, PID 1)."""
    result = await podman.arun("top", cid, "huser", "capeff", "capbnd", "args")
    rows = [line.rstrip().split(None, 3) for line in result.stdout.splitlines()[1:]]
    (daemon,) = [row[:3] for row in rows if row[3].endswith("netevd run") and "tini" not in row[3]]
    return daemon


async def assert_policy_routing(built: Any) -> None:
    async def rules() -> set[tuple[str | None, str | None, str]]:
        found = await built.ip_json("host", "-4", "rule", "show")
        ours = [r for r in found if str(r.get("protocol")) == "78"]
        return {(_side(r.get("src")), _side(r.get("dst")), str(r["table"])) for r in ours}

    want = {(HOST_V4, None, str(TABLE)), (None, HOST_V4, str(TABLE))}

    async def converged() -> bool:
        return await rules() == want

    await wait_until(converged, 15, message=f"netevd's rules to be {want}")
    routes = await built.ip_json("host", "-4", "route", "show", "table", str(TABLE))
    assert {(r["dst"], r.get("gateway"), r["dev"]) for r in routes} == {
        ("default", GATEWAY_V4, "eth0"),
        ("10.231.40.0/24", None, "eth0"),
    }


def _side(value: str | None) -> str | None:
    return None if value in (None, "all") else value


async def state_file(podman: Podman, volume: str) -> dict[str, Any]:
    mountpoint = await podman.arun("volume", "inspect", "--format", "{{.Mountpoint}}", volume)
    path = Path(mountpoint.stdout.strip()) / "tables.json"
    await wait_until(path.exists, 10, message=f"{path} to be written")
    return dict(json.loads(path.read_text()))


async def test_image_runs_unprivileged_scripts_routing_status_and_stops_on_sigterm(
    lab, tmp_path, netevd_image, docker_api, podman, podman_objects
):
    built = await lab(topology())
    etc = ScriptDirs(tmp_path / "etc")  # mounted at /etc/netevd; runs land in etc-runs
    add_recorder(etc, "carrier", STATUS)
    add_recorder(etc, "no-carrier", STATUS)
    write_config(etc.root / "netevd.yaml", config()).chmod(0o644)
    state = await asyncio.to_thread(podman_objects.volume, "state")
    container = await NetevdContainer(
        netevd_image,
        built.ns("host"),
        podman_objects,
        cap_drop=["ALL"],
        cap_add=["NET_ADMIN"],
        security_opt=["no-new-privileges"],
        read_only=True,
        tmpfs={"/tmp": ""},
        mounts={
            str(etc.root): ("/etc/netevd", "ro"),
            str(etc.out): (str(etc.out), "rw"),
            state: ("/var/lib/netevd", "rw"),
        },
    ).start()
    await container.wait_for_log(r"level=INFO ready\b")
    # The daemon: the image's user, CAP_NET_ADMIN only (ambient from podman), bounding set too.
    assert await daemon_process(podman, container.id) == [NETEVD_UID, "NET_ADMIN", "NET_ADMIN"]
    # The startup replay, then a real carrier change made from the other namespace.
    (replay,) = await etc.wait_for(STATE="carrier", LINK="eth0", NETEVD_REPLAY="1")
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    (lost,) = await etc.wait_for(STATE="no-carrier", LINK="eth0")
    await built.run("peer", "ip", "link", "set", "eth0", "up")
    (back,) = await etc.wait_for(STATE="carrier", LINK="eth0", NETEVD_REPLAY="0")
    assert {k: lost.env.get(k) for k in ("LINKINDEX", "BACKEND", "ADDRESSES")} == {
        "LINKINDEX": "10",
        "BACKEND": "kernel",
        "ADDRESSES": HOST_V4,
    }
    for run in (replay, lost, back):
        assert script_status(etc, run.script) == {
            "Uid": NETEVD_UID,
            "CapEff": "0000000000000000",
            "CapPrm": "0000000000000000",
            "CapAmb": "0000000000000000",
            "NoNewPrivs": "1",
        }
    await assert_policy_routing(built)
    assert await state_file(podman, state) == {"version": 1, "tables": {"eth0": TABLE}}
    code, out = await container.exec("netevd", "status", "--format", "json")
    assert code == 0, out
    status = json.loads(out)
    assert (status["backend"], status["ready"]) == ("none", True)
    assert await container.stop() == 0
    logs = await container.logs()
    assert re.search(r"level=INFO stopping$", logs, re.MULTILINE)
    assert re.search(r"level=INFO stopped$", logs, re.MULTILINE)
    # podman keeps the monitor of an exec for five minutes (conmon --exit-delay 300);
    # teardown ends it by PID, with the container and its volumes
    assert conmon_pids([container.id])
    assert await asyncio.to_thread(podman_objects.cleanup) == []
    assert conmon_pids([container.id]) == []


def kubelet_configmap_volume(root: Path, configmap: dict[str, Any], volume: dict[str, Any]) -> None:
    """The layout the kubelet gives a configMap volume with ``items``: the files in a
    timestamped directory (0755), ``..data`` pointing at it, and one symlink per first path
    component (pkg/volume/util/atomic_writer.go; subdirectories 0777 less the kubelet's
    umask, 022 as usual)."""
    data = root / "..2026_11_26_00_00_00.000000001"
    for item in volume["items"]:
        path = data / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        path.write_text(configmap["data"][item["key"]])
        path.chmod(item.get("mode", volume["defaultMode"]))
        top = item["path"].split("/", 1)[0]
        if not (root / top).is_symlink():
            (root / top).symlink_to(Path("..data") / top)
    data.chmod(0o755)
    (root / "..data").symlink_to(data.name)
    root.chmod(0o777)  # the volume's own directory is world-writable: netevd never checks it


def daemonset_parts() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The ConfigMap, the pod's configMap volume, and its (only) container."""
    docs = {d["kind"]: d for d in yaml.safe_load_all(DAEMONSET.read_text())}
    pod = docs["DaemonSet"]["spec"]["template"]["spec"]
    (config_volume,) = [v["configMap"] for v in pod["volumes"] if "configMap" in v]
    (container,) = pod["containers"]
    return docs["ConfigMap"], config_volume, container


async def test_daemonset_security_context_ends_as_netevd_with_net_admin_only(
    lab, tmp_path, netevd_image, docker_api, podman, podman_objects
):
    """The DaemonSet's securityContext and ConfigMap, given to podman as Kubernetes would."""
    built = await lab(topology())
    configmap, volume, spec = daemonset_parts()
    security = spec["securityContext"]
    configmap = copy.deepcopy(configmap)
    conf = yaml.safe_load(configmap["data"]["netevd.yaml"])
    conf["routing"]["policy_rules"] = ["eth0"]  # something only CAP_NET_ADMIN can do
    configmap["data"]["netevd.yaml"] = yaml.safe_dump(conf)
    etc = tmp_path / "configmap"
    etc.mkdir()
    kubelet_configmap_volume(etc, configmap, volume)
    caps = security["capabilities"]
    container = await NetevdContainer(
        netevd_image,
        built.ns("host"),
        podman_objects,
        entrypoint=spec["command"],  # netevd itself, not tini (see the manifest)
        command=spec["args"],
        user=f"{security['runAsUser']}:{security['runAsGroup']}",
        cap_drop=caps["drop"],
        cap_add=caps["add"],
        security_opt=[] if security["allowPrivilegeEscalation"] else ["no-new-privileges"],
        read_only=security["readOnlyRootFilesystem"],
        tmpfs={"/tmp": "", "/var/lib/netevd": "mode=0755"},  # the pod's emptyDir / hostPath
        mounts={str(etc): ("/etc/netevd", "ro")},
    ).start()
    logs = await container.wait_for_log(r"level=INFO ready\b")
    assert re.search(r"privileges\.dropped user=netevd uid=990 gid=990 keep=CAP_NET_ADMIN", logs)
    assert await daemon_process(podman, container.id) == [NETEVD_UID, "NET_ADMIN", "NET_ADMIN"]
    await assert_policy_routing(built)
    # The ConfigMap's own carrier script ran, from its symlinked directory.
    await container.wait_for_log(r"script\.output link=eth0 .*carrier\.d/50-log .*has carrier")
    assert await container.stop() == 0, await container.logs()


async def test_image_holds_no_build_credentials_tools_or_root(podman, netevd_image):
    """The CA bundle and pip.conf were build-time mounts only; no pip, compiler or cache."""
    (inspect,) = json.loads((await podman.arun("image", "inspect", netevd_image)).stdout)
    config = inspect["Config"]
    assert config["User"] == f"{NETEVD_UID}:{NETEVD_UID}"
    # kept because the build uses the docker format (OCI has no HEALTHCHECK)
    assert inspect["Healthcheck"]["Test"] == ["CMD", "netevd", "status", "--format", "json"]
    assert config["Entrypoint"] == ["/usr/bin/tini", "--", "netevd"]
    assert list(config["Volumes"]) == ["/var/lib/netevd"]
    probe = (
        "for p in /etc/pip.conf /etc/ssl/host-ca.pem /root/.cache/pip /opt/netevd/bin/pip "
        "/opt/build /usr/bin/gcc /usr/bin/cc /var/lib/apt/lists/deb.debian.org_debian_dists_"
        "bookworm_InRelease; do test -e $p && echo $p; done; "
        "ls /opt/netevd/lib/python3*/site-packages | grep -E '^(pip|setuptools|hatchling)' || true"
    )
    found = await podman.arun(
        "run", "--rm", "--network=none", "--entrypoint=/bin/sh", netevd_image, "-c", probe
    )
    assert found.stdout == ""
