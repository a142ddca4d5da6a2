"""The deployment files as data: the Kubernetes manifest against Kubernetes' own schemas
(bundled by kubernetes-validate, nothing fetched), compose.yaml's host mounts, and the script
directories that tmpfiles and the ConfigMap create. Running them is tests/integration/containers.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from netevd.config import load_config
from netevd.core.directories import Directory

REPO = Path(__file__).resolve().parents[2]
DAEMONSET = REPO / "deploy" / "kubernetes" / "daemonset.yaml"
OLDEST_K8S = (1, 30)
# What netevd needs to drop from root to its user with CAP_NET_ADMIN alone (docs/deployment.md)
DROP_CAPS = {"NET_ADMIN", "SETUID", "SETGID", "SETPCAP", "CHOWN"}


def manifest() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(DAEMONSET.read_text())}


def k8s_versions() -> list[str]:
    """Every schema version bundled from OLDEST_K8S on, each once."""
    found = {v for v in all_versions() if tuple(int(x) for x in v.split(".")[:2]) >= OLDEST_K8S}
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


@pytest.mark.parametrize("version", k8s_versions())
def test_manifest_is_valid_kubernetes(version):
    docs = list(yaml.safe_load_all(DAEMONSET.read_text()))
    assert [d["kind"] for d in docs] == ["Namespace", "ConfigMap", "DaemonSet"]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_can_fail():
    daemonset = copy.deepcopy(manifest()["DaemonSet"])
    daemonset["spec"]["template"]["spec"]["hostNetwrok"] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="hostNetwrok"):
        kubernetes_validate.validate(daemonset, k8s_versions()[-1], strict=True)
    daemonset = copy.deepcopy(manifest()["DaemonSet"])
    daemonset["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = "0"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, k8s_versions()[-1], strict=True)


def test_daemonset_uses_the_node_network_and_only_what_dropping_privileges_takes():
    pod = manifest()["DaemonSet"]["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["shareProcessNamespace"] is True  # the pause container reaps; no tini needed
    (container,) = pod["containers"]
    assert container["command"] == ["netevd"]
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": sorted(DROP_CAPS, key=order)}
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security.get("privileged", False) is False
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["/etc/netevd"]["readOnly"] is True
    assert "configMap" in volumes[mounts["/etc/netevd"]["name"]]
    state = volumes[mounts["/var/lib/netevd"]["name"]]
    assert "hostPath" in state or "emptyDir" in state


def order(cap: str) -> int:
    return ["NET_ADMIN", "SETUID", "SETGID", "SETPCAP", "CHOWN"].index(cap)


def test_configmap_holds_a_valid_configuration_and_scripts_in_real_directories(tmp_path):
    configmap = manifest()["ConfigMap"]
    pod = manifest()["DaemonSet"]["spec"]["template"]["spec"]
    (volume,) = [v["configMap"] for v in pod["volumes"] if "configMap" in v]
    path = tmp_path / "netevd.yaml"
    path.write_text(configmap["data"]["netevd.yaml"])
    loaded = load_config(str(path), {}, strict=True)
    assert loaded.warnings == ()
    assert set(configmap["data"]) == {item["key"] for item in volume["items"]}
    for item in volume["items"]:
        if item["key"] == "netevd.yaml":
            continue
        directory, name = item["path"].split("/")
        assert directory.endswith(".d")
        Directory(directory.removesuffix(".d"))  # ValueError: not a directory netevd runs
        assert item["mode"] == 0o755
        assert re.fullmatch(r"\d\d-[a-z-]+", name)
        assert configmap["data"][item["key"]].startswith("#!/bin/sh\n")


def test_tmpfiles_creates_only_real_script_directories_owned_by_root():
    lines = [
        line.split()
        for line in (REPO / "systemd" / "netevd.tmpfiles.conf").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == ["d", "/etc/netevd", "0755", "root", "root", "-"]
    for kind, path, mode, user, group, _age in lines[1:]:
        assert (kind, mode, user, group) == ("d", "0755", "root", "root")
        assert path.startswith("/etc/netevd/")
        assert path.endswith(".d")
        Directory(path.removeprefix("/etc/netevd/").removesuffix(".d"))


def test_compose_creates_nothing_on_the_host_and_stays_off_podman_networks():
    service = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]["netevd"]
    assert service["network_mode"] == "host"
    assert "networks" not in service
    assert (service["cap_drop"], service["cap_add"]) == (["ALL"], ["NET_ADMIN"])
    assert service["read_only"] is True
    for volume in service["volumes"]:
        assert isinstance(volume, dict), f"short syntax would let compose create {volume}"
        if volume["type"] == "bind":
            assert volume["bind"]["create_host_path"] is False, volume
            assert "sock" not in volume["source"]  # a directory, so a restarted bus is seen
