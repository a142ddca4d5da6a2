"""Fixtures for the container tests: podman with a private containers.conf, the images built
once per test session (even under ``pytest -n auto``), podman's API service for
testcontainers, and per-test bookkeeping that removes whatever a test made through podman.

Never podman's default network: every container joins a lab namespace
(``network_mode="ns:/run/netns/NAME"``). At the end of each worker's session a leak check
fails the run if a container, volume, conmon process, network or the API service survived.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.containers.image import build, build_lock, build_netevd_image, once_per_session
from lab.containers.podman import Podman, PodmanObjects, PodmanService, write_containers_conf

REPO = Path(__file__).resolve().parents[3]
SYSTEMD_CONTAINERFILE = "tests/integration/containers/systemd.Containerfile"


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    return Podman(write_containers_conf(tmp_path_factory.mktemp("podman-conf")))


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory all workers of this session share (xdist gives each its own basetemp)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def built_images(podman: Podman, shared_dir: Path) -> dict[str, str]:
    """``{"image": ID, "base": REF}``: localhost/netevd:latest from this checkout."""

    def make() -> str:
        result, base = build_netevd_image(podman, REPO)
        return json.dumps({"image": result.image_id, "base": base})

    return dict(json.loads(once_per_session(shared_dir, "netevd", make)))


@pytest.fixture(scope="session")
def netevd_image(built_images: dict[str, str]) -> str:
    return built_images["image"]


@pytest.fixture(scope="session")
def systemd_image(
    podman: Podman, built_images: dict[str, str], shared_dir: Path, tmp_path_factory
) -> str:
    """The test image that boots systemd with netevd.service (see systemd.Containerfile)."""
    workdir = tmp_path_factory.mktemp("systemd-image")

    def make() -> str:
        args = [("BASE", built_images["base"]), ("NETEVD_IMAGE", built_images["image"])]
        with build_lock():
            result = build(
                podman,
                REPO,
                "localhost/netevd-systemd:test",
                containerfile=SYSTEMD_CONTAINERFILE,
                build_args=args,
                workdir=workdir,
            )
        return result.image_id

    return once_per_session(shared_dir, "netevd-systemd", make)


class SessionLedger:
    """Every PodmanObjects of this worker's session, for the leak check at its end."""

    def __init__(self, podman: Podman) -> None:
        self.podman = podman
        self.objects: list[PodmanObjects] = []
        self.networks = podman.network_names()

    def leaks(self) -> list[str]:
        found = [problem for objects in self.objects for problem in objects.cleanup()]
        if (networks := self.podman.network_names()) != self.networks:
            found.append(f"podman networks changed: {self.networks} -> {networks}")
        return found


@pytest.fixture(scope="session")
def ledger(podman: Podman) -> Iterator[SessionLedger]:
    record = SessionLedger(podman)
    yield record
    leaks = record.leaks()
    assert not leaks, f"container tests left things behind: {leaks}"


@pytest.fixture
def podman_objects(
    podman: Podman, lab_prefix: str, ledger: SessionLedger
) -> Iterator[PodmanObjects]:
    """This test's containers and volumes (labelled with its prefix), removed at teardown."""
    objects = PodmanObjects(podman, lab_prefix)
    ledger.objects.append(objects)
    yield objects
    leaks = objects.cleanup()
    assert not leaks, f"teardown left: {leaks}"


@pytest.fixture(scope="session")
def docker_api(
    podman: Podman, tmp_path_factory: pytest.TempPathFactory, ledger: SessionLedger
) -> Iterator[PodmanService]:
    """``podman system service`` on a private socket; testcontainers pointed at it."""
    from testcontainers.core.config import testcontainers_config

    service = PodmanService(podman, tmp_path_factory.mktemp("podman-api") / "podman.sock")
    service.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in service.docker_env.items():
                patch.setenv(key, value)
            patch.setattr(testcontainers_config, "ryuk_disabled", True)
            yield service
    finally:
        pid = service.pid
        service.stop()
        assert not Path(f"/proc/{pid}").exists(), f"podman service {pid} survived"
        assert not service.socket_path.exists()
