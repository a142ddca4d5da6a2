"""Sandboxes for helper daemons that write to /etc or set the host name (dhclient-script,
systemd-hostnamed, systemd-resolved, polkitd).

A sandboxed command runs in a mount namespace and a UTS namespace of its own (``unshare``),
inside a lab network namespace or not. There /etc is an overlay: reads see the host's /etc,
writes land in ``<workdir>/etc-upper`` (so a test can read what the daemon wrote) and never
reach the host. A bind mount over /etc/resolv.conf alone is not enough: dhclient-script writes
``/etc/resolv.conf.dhclient-new.PID`` beside it first. Optionally /run is a private tmpfs, extra
users exist (lines appended to the overlay's passwd and group), files are hidden and
directories bound over others. ``sethostname`` changes only the sandbox's UTS namespace.

:func:`sandbox_argv` wraps one command (which then *is* the sandbox: dhclient); a
:class:`Sandbox` is a holder process that others join with ``nsenter`` (a bus, hostnamed,
resolved and polkitd sharing one view of /etc and /run).
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from lab.errors import LabError
from lab.lifecycle import Service
from lab.net.build import run_command
from lab.process import ManagedProcess

READY = "netevd-lab-sandbox-ready"


@dataclass(frozen=True)
class SandboxSpec:
    hostname: str | None = None  # the UTS namespace's host name; None: a copy of the host's
    private_run: bool = False  # a tmpfs on /run
    users: tuple[tuple[str, int], ...] = ()  # (name, uid); the group has the same name and id
    hidden: tuple[str, ...] = ()  # files under /etc removed from the sandbox's view
    binds: tuple[tuple[str, str], ...] = ()  # (source, target) bind mounts
    run_dirs: tuple[tuple[str, str], ...] = ()  # (directory under /run, owner) to create


def sandbox_script(spec: SandboxSpec) -> str:
    """The sh script that sets the sandbox up; $1 is the workdir, the rest the command."""
    lines = [
        "set -eu",
        "W=$1; shift",
        "mount --make-rprivate /",
        'mkdir -p "$W/etc-upper" "$W/etc-work"',
        'mount -t overlay netevd-lab-etc -o "lowerdir=/etc,upperdir=$W/etc-upper,'
        'workdir=$W/etc-work" /etc',
    ]
    for name, uid in spec.users:
        entry = f"{name}:x:{uid}:{uid}:netevd lab:/nonexistent:/usr/sbin/nologin"
        lines.append(f"grep -q '^{name}:' /etc/passwd || echo {shlex.quote(entry)} >> /etc/passwd")
        lines.append(f"grep -q '^{name}:' /etc/group || echo '{name}:x:{uid}:' >> /etc/group")
    lines += [f"rm -f {shlex.quote(path)}" for path in spec.hidden]
    if spec.private_run:
        lines.append("mount -t tmpfs -o mode=0755 netevd-lab-run /run")
    for directory, owner in spec.run_dirs:
        target = shlex.quote(f"/run/{directory}")
        lines.append(f"mkdir -p {target} && chown {shlex.quote(owner)}: {target}")
    for source, target in spec.binds:
        lines.append(f"mount --bind {shlex.quote(source)} {shlex.quote(target)}")
    if spec.hostname is not None:
        lines.append(f"hostname {shlex.quote(spec.hostname)}")
    lines.append('exec "$@"')
    return "\n".join(lines) + "\n"


def sandbox_argv(workdir: str | Path, spec: SandboxSpec, argv: Sequence[str]) -> list[str]:
    """*argv* run in a new sandbox whose overlay lives in *workdir* (same PID: everything execs)."""
    unshare = ["unshare", "--mount", "--uts", "--propagation", "private", "--"]
    return [*unshare, "sh", "-c", sandbox_script(spec), "netevd-lab-sandbox", str(workdir), *argv]


def join_argv(pid: int, argv: Sequence[str], *, net: bool = True) -> list[str]:
    """*argv* run in the mount, UTS (and network) namespaces of process *pid*."""
    return ["nsenter", "-t", str(pid), "-m", "-u", *(["-n"] if net else []), "--", *argv]


@dataclass(frozen=True)
class HostView:
    """What a sandbox must never change on the host: /etc's entries, resolv.conf, the name."""

    etc_entries: frozenset[str]
    resolv_conf: bytes
    hostname: str

    @classmethod
    def take(cls) -> HostView:
        etc = Path("/etc")
        resolv = etc / "resolv.conf"
        return cls(
            frozenset(p.name for p in etc.iterdir()),
            resolv.read_bytes() if resolv.exists() else b"",
            socket.gethostname(),
        )


class Sandbox(Service):
    """``async with Sandbox(spec, netns=NS) as box:`` a holder others join (``box.process``)."""

    def __init__(
        self, spec: SandboxSpec, *, netns: str | None = None, workdir: str | Path | None = None
    ) -> None:
        self.spec = spec
        self.netns = netns
        self._own = workdir is None
        # world-searchable: daemons that drop privileges must reach sockets under it
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="netevd-sandbox-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        self.etc_upper = self.workdir / "etc-upper"
        self.holder: ManagedProcess | None = None

    @property
    def pid(self) -> int:
        if self.holder is None or not self.holder.running:
            raise LabError("the sandbox is not running")
        return self.holder.pid

    def write_etc(self, relative: str, text: str, mode: int = 0o644) -> Path:
        """Put a file into the sandbox's /etc, before it starts (overlayfs does not promise to
        show what is changed under it once mounted)."""
        path = self.etc_upper / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return path

    async def start(self) -> Self:
        hold = ["sh", "-c", f"echo {READY}; exec sleep infinity"]
        argv = sandbox_argv(self.workdir, self.spec, hold)
        self.holder = ManagedProcess(argv, netns=self.netns, name="sandbox")
        await self.holder.start()
        await self.holder.wait_for_log(READY, timeout=10)
        return self

    def process(
        self, argv: Sequence[str], *, name: str, env: dict[str, str] | None = None
    ) -> ManagedProcess:
        """A ManagedProcess (not started) that runs *argv* inside the sandbox."""
        command = join_argv(self.pid, argv, net=self.netns is not None)
        return ManagedProcess(command, env=env, name=name)

    async def run(self, *argv: str, check: bool = True) -> str:
        result = await run_command(
            join_argv(self.pid, argv, net=self.netns is not None), check=check
        )
        return result.stdout

    async def hostname(self) -> str:
        return (await self.run("hostname")).strip()

    async def stop(self) -> None:
        if self.holder is not None:
            await self.holder.stop()
            self.holder = None
        if self._own:
            await asyncio.to_thread(shutil.rmtree, self.workdir, True)
