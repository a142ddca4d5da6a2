"""podman for the lab and ``make image``: a private containers.conf, the CLI, the API service.

Never the host's global podman configuration: every command gets ``CONTAINERS_CONF`` pointing
at a file written here (runc, and ulimits this machine's hard limits allow; crun fails on
hybrid cgroups and podman's default nofile of 1048576 is above the hard limit). Never podman's
default network either: callers pass ``--network host`` or ``--network ns:/run/netns/NAME``,
because the default bridge makes netavark rewrite the host's iptables and ip_forward.

``PodmanService`` runs ``podman system service`` on a socket in a temp directory for
testcontainers (the Docker API); ``conmon_pids`` finds the monitors podman leaves behind
(after an ``exec`` they linger for five minutes), so teardown can end them by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import LabError
from lab.wait import wait_until_sync

NPROC_CEILING = 32768  # the OCI runtime runs with this nproc hard limit (podman lowers its own)
NOFILE_CEILING = 1 << 20


def containers_conf_text() -> str:
    """A containers.conf that works here: runc, and ulimits within this process's hard limits."""
    nofile = _limit(resource.RLIMIT_NOFILE, NOFILE_CEILING)
    nproc = _limit(resource.RLIMIT_NPROC, NPROC_CEILING)
    return (
        "# Written by lab.containers.podman for netevd's image builds and tests; see "
        "docs/deployment.md.\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
    )


def _limit(which: int, ceiling: int) -> int:
    hard = resource.getrlimit(which)[1]
    return ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)


def write_containers_conf(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "containers.conf"
    path.write_text(containers_conf_text())
    return path


@dataclass(frozen=True)
class Podman:
    """The podman CLI with a private ``CONTAINERS_CONF``."""

    conf: Path
    binary: str = "podman"
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **self.extra_env, "CONTAINERS_CONF": str(self.conf)}

    def run(
        self, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """``podman ARGS``; a failure raises LabError with podman's own message."""
        argv = [self.binary, *args]
        try:
            result = subprocess.run(
                argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LabError(f"{' '.join(argv)} did not finish within {timeout:g}s") from None
        if check and result.returncode != 0:
            raise LabError(
                f"{' '.join(argv)} failed with exit code {result.returncode}: "
                f"{result.stderr.strip()[-2000:]}"
            )
        return result

    async def arun(
        self, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """``run`` off the event loop, for async tests."""
        return await asyncio.to_thread(self.run, *args, check=check, timeout=timeout)

    def image_id(self, ref: str) -> str | None:
        """The ID of local image *ref*, or None when podman has no such image."""
        result = self.run("image", "inspect", "--format", "{{.Id}}", ref, check=False)
        if result.returncode != 0:
            return None
        return result.stdout.strip() or None

    def image_size(self, ref: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip())

    def container_ids(self, label: str) -> list[str]:
        """Every container (running or not) carrying *label* (``key=value``)."""
        out = self.run("ps", "-a", "--no-trunc", "--filter", f"label={label}", "-q").stdout
        return out.split()

    def mounted_volumes(self, container_ids: Sequence[str]) -> set[str]:
        """Named and anonymous volumes mounted by these containers."""
        if not container_ids:
            return set()
        fmt = "{{range .Mounts}}{{if .Name}}{{.Name}} {{end}}{{end}}"
        out = self.run("container", "inspect", "--format", fmt, *container_ids, check=False)
        return set(out.stdout.split())

    def volume_exists(self, name: str) -> bool:
        return self.run("volume", "exists", name, check=False).returncode == 0

    def volume_names(self, label: str) -> list[str]:
        out = self.run("volume", "ls", "--filter", f"label={label}", "-q").stdout
        return out.split()

    def network_names(self) -> list[str]:
        return sorted(self.run("network", "ls", "--format", "{{.Name}}").stdout.split())


class PodmanService:
    """``podman system service --time=0 unix://SOCKET``: the Docker API, for testcontainers.

    Started in its own session so stop() reaches everything it forked; ``docker_env`` is what
    docker-py / testcontainers need (Ryuk disabled: its image is not reachable without a
    registry, and teardown here removes everything by ID anyway).
    """

    def __init__(self, podman: Podman, socket_path: Path, log_path: Path | None = None) -> None:
        self.podman = podman
        self.socket_path = socket_path
        self.log_path = log_path or socket_path.with_suffix(".log")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise LabError("podman service is not started")
        return self._proc.pid

    @property
    def docker_env(self) -> dict[str, str]:
        return {
            "DOCKER_HOST": f"unix://{self.socket_path}",
            "TESTCONTAINERS_RYUK_DISABLED": "true",
        }

    def start(self, timeout: float = 20.0) -> None:
        if self._proc is not None:
            raise LabError("podman service is already started")
        self.socket_path.unlink(missing_ok=True)
        argv = [self.podman.binary, "system", "service", "--time=0", f"unix://{self.socket_path}"]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv,
                env=self.podman.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            wait_until_sync(self._answers, timeout, message=f"podman API on {self.socket_path}")
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise LabError(
                f"podman system service exited with {self._proc.returncode}: "
                f"{self.log_path.read_text(errors='replace')[-2000:]}"
            )
        return ping(self.socket_path)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the service's session, SIGKILL after *grace*; the socket file goes too."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.socket_path.unlink(missing_ok=True)


def ping(socket_path: Path) -> bool:
    """True when a Docker-compatible API answers ``GET /_ping`` with OK on *socket_path*."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(str(socket_path))
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            reply = sock.recv(4096)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.1 200") and reply.rstrip().endswith(b"OK")


def _cmdline(pid: str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def conmon_pids(container_ids: Iterable[str]) -> list[int]:
    """PIDs of the conmon processes that monitor (or ran an exec in) these containers."""
    wanted = set(container_ids)
    if not wanted:
        return []
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        argv = _cmdline(entry.name)
        if argv and Path(argv[0]).name == "conmon" and wanted.intersection(argv):
            found.append(int(entry.name))
    return found


def end_processes(pids: Sequence[int], grace: float = 5.0) -> list[int]:
    """SIGTERM then SIGKILL *pids*; returns those still alive afterwards (should be none)."""

    def alive() -> list[int]:
        return [pid for pid in pids if _running(pid)]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(LabError):
            wait_until_sync(lambda: not alive(), grace, message="processes to end")
        if not alive():
            return []
    return alive()


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie is gone for our purposes; its parent reaps it)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[-1].split()[0] != "Z"


class PodmanObjects:
    """What one test makes through podman (any client: CLI, API, compose), found by label.

    Containers and volumes carry ``labels``; ``cleanup`` removes every one of them, ends the
    conmon processes of every container it ever saw, and returns what is still there (a leak).
    """

    KEY = "org.netevd.test"

    def __init__(self, podman: Podman, owner: str, extra_labels: Sequence[str] = ()) -> None:
        self.podman = podman
        self.owner = owner
        self.selectors = [f"{self.KEY}={owner}", *extra_labels]
        self.seen: set[str] = set()
        self.volumes_seen: set[str] = set()  # anonymous ones too (the image's VOLUME)

    @property
    def labels(self) -> dict[str, str]:
        return {self.KEY: self.owner}

    def add_selector(self, label: str) -> None:
        """Also clean up what carries *label* (e.g. compose's project label on its volumes)."""
        self.selectors.append(label)

    def volume(self, name: str) -> str:
        """A new named volume, labelled; returns its name."""
        full = f"{self.owner}{name}"
        self.podman.run("volume", "create", "--label", self.selectors[0], full)
        return full

    def containers(self) -> list[str]:
        found = {cid for label in self.selectors for cid in self.podman.container_ids(label)}
        self.seen |= found
        return sorted(found)

    def volumes(self) -> list[str]:
        return sorted({v for label in self.selectors for v in self.podman.volume_names(label)})

    def cleanup(self) -> list[str]:
        """Remove everything; the leaks that survived, described (empty when clean)."""
        problems = []
        if ids := self.containers():
            self.volumes_seen |= self.podman.mounted_volumes(ids)
            result = self.podman.run("rm", "--force", "--volumes", "--time", "5", *ids, check=False)
            if result.returncode != 0:
                problems.append(f"podman rm: {result.stderr.strip()}")
        if volumes := self.volumes():
            self.podman.run("volume", "rm", "--force", *volumes, check=False)
        if survivors := end_processes(conmon_pids(self.seen)):
            problems.append(f"conmon processes {survivors} survived SIGKILL")
        problems += [f"container {cid} left behind" for cid in self.containers()]
        left = set(self.volumes()) | {v for v in self.volumes_seen if self.podman.volume_exists(v)}
        problems += [f"volume {name} left behind" for name in sorted(left)]
        return problems
