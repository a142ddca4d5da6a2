"""The real systemd-hostnamed, systemd-resolved and polkitd on a private system bus, sandboxed.

All of them run in one :class:`~lab.daemons.sandbox.Sandbox` (its own mount and UTS namespaces,
inside a lab network namespace so resolved sees the lab's links): /etc is an overlay (hostnamed may
write /etc/hostname, the extra users exist only there), /run is a tmpfs, and the host name is the
sandbox's own. The dbus-daemon runs in the sandbox too, so its policy sees the sandbox's users; its
socket is a path in the workdir, reachable from any namespace.

- hostnamed is the installed ``/usr/lib/systemd/systemd-hostnamed``. /etc/hostname is hidden
  unless *static_hostname* is given, so a transient name (``SetHostname``) reaches the kernel.
  It exits after 30 s without a call (as under systemd, where the bus starts it again);
  :meth:`SystemdServices.start_hostnamed` starts it again.
- resolved is never installed on the host (its postinst takes over /etc/resolv.conf): its
  binary comes from Debian's package extracted by ``scripts/install-deps.sh`` into
  ``/var/cache/netevd-lab/systemd-resolved/<systemd version>/`` (``NETEVD_LAB_RESOLVED_ROOT``
  overrides), with the user ``systemd-resolve`` added to the sandbox and the stub listener off.
- polkitd is the installed one, with the actions of hostnamed and resolved and the given rules
  (``/etc/polkit-1/rules.d``). Without polkitd, a caller that is not root is refused with
  ``org.freedesktop.DBus.Error.AccessDenied``; with it, polkit decides.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from dbus_fast.aio import MessageBus

from lab.daemons.bus import BUS_CONFIG, ask_bus_daemon, bus_address, bus_argv, bus_env
from lab.daemons.sandbox import Sandbox, SandboxSpec
from lab.errors import LabError
from lab.lifecycle import Service
from lab.process import ManagedProcess
from lab.wait import WaitTimeout, wait_until

HOSTNAMED = "/usr/lib/systemd/systemd-hostnamed"
POLKITD = "/usr/lib/polkit-1/polkitd"
RESOLVED_CACHE = "/var/cache/netevd-lab/systemd-resolved"
RESOLVE_USER = ("systemd-resolve", 64990)
NETEVD_USER = ("netevd", 64991)  # the daemon's user, for polkit tests (exists only in here)
RESOLVED_CONF = "[Resolve]\nDNSStubListener=no\nLLMNR=no\nMulticastDNS=no\n"
OWNED = "Successfully acquired requested service name"


def resolved_root() -> Path:
    """Where the extracted systemd-resolved package matching the host's systemd lives."""
    if override := os.environ.get("NETEVD_LAB_RESOLVED_ROOT"):
        return Path(override)
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "systemd"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return Path(RESOLVED_CACHE) / version


def resolved_available() -> str | None:
    """Why the real resolved cannot run here, or None when it can."""
    binary = resolved_root() / "lib/systemd/systemd-resolved"
    if not binary.is_file():
        return f"no {binary} (scripts/install-deps.sh extracts systemd-resolved there)"
    return None


def _bus_config(socket: Path) -> str:
    """The lab's system-bus policy, plus resolved's (it is not installed where dbus looks)."""
    extra = resolved_root() / "usr/share/dbus-1/system.d"
    include = f"  <includedir>{extra}</includedir>\n</busconfig>"
    return BUS_CONFIG.format(socket=socket).replace("</busconfig>", include)


class SystemdServices(Service):
    """``async with SystemdServices(netns) as s: await s.start_hostnamed(); s.env``."""

    def __init__(
        self,
        netns: str | None,
        *,
        hostname: str = "lab-initial",
        static_hostname: str | None = None,
        polkit_rules: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="netevd-systemd-"))
        self.workdir.chmod(0o755)
        spec = SandboxSpec(
            hostname=hostname,
            private_run=True,
            users=(RESOLVE_USER, NETEVD_USER),
            hidden=() if static_hostname else ("/etc/hostname",),
            binds=((str(self._actions_dir()), "/usr/share/polkit-1/actions"),),
            run_dirs=(("systemd/resolve", RESOLVE_USER[0]),),
        )
        self.sandbox = Sandbox(spec, netns=netns, workdir=self.workdir / "sandbox")
        if static_hostname:
            self.sandbox.write_etc("hostname", static_hostname + "\n")
        self.sandbox.write_etc("systemd/resolved.conf", RESOLVED_CONF)
        for name, text in (polkit_rules or {}).items():
            self.sandbox.write_etc(f"polkit-1/rules.d/{name}", text)
        self.bus_socket = self.workdir / "bus.sock"
        self.processes: dict[str, ManagedProcess] = {}
        self.history: list[ManagedProcess] = []

    @property
    def address(self) -> str:
        return bus_address(self.bus_socket)

    @property
    def env(self) -> dict[str, str]:
        return bus_env(self.bus_socket)

    def _actions_dir(self) -> Path:
        """hostnamed's and resolved's polkit actions (resolved's from the extracted package)."""
        actions = self.workdir / "polkit-actions"
        actions.mkdir(mode=0o755)
        for source in Path("/usr/share/polkit-1/actions").glob("*.policy"):
            shutil.copy(source, actions)
        extracted = resolved_root() / "usr/share/polkit-1/actions"
        for source in extracted.glob("*.policy"):
            shutil.copy(source, actions)
        return actions

    # -- life -----------------------------------------------------------------------------------

    async def start(self) -> Self:
        try:
            await self.sandbox.start()
            config = self.workdir / "bus.conf"
            config.write_text(_bus_config(self.bus_socket))
            bus = await self._start("bus", bus_argv(config), r"^unix:")
            if not bus.running:
                raise LabError("the private bus did not start")
        except BaseException:
            await self.stop()
            raise
        return self

    async def start_hostnamed(self) -> ManagedProcess:
        return await self._start("hostnamed", [HOSTNAMED], OWNED)

    async def start_resolved(self) -> ManagedProcess:
        if problem := resolved_available():
            raise LabError(f"systemd-resolved cannot run: {problem}")
        binary = str(resolved_root() / "lib/systemd/systemd-resolved")
        return await self._start("resolved", [binary], OWNED)

    async def start_polkitd(self) -> ManagedProcess:
        return await self._start("polkitd", [POLKITD, "--no-debug"], None)

    async def stop_service(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            await process.stop()

    async def stop(self) -> None:
        for name in ("polkitd", "resolved", "hostnamed", "bus"):
            await self.stop_service(name)
        await self.sandbox.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    async def _start(self, name: str, argv: list[str], ready: str | None) -> ManagedProcess:
        await self.stop_service(name)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "SYSTEMD_LOG_LEVEL": "debug",
            "SYSTEMD_LOG_TARGET": "console",
            **self.env,
        }
        process = self.sandbox.process(argv, name=name, env=env)
        self.processes[name] = process
        self.history.append(process)
        await process.start()
        if ready is not None:
            await process.wait_for_log(ready, timeout=10)
        else:
            await self._wait_owner("org.freedesktop.PolicyKit1", process)
        return process

    async def _wait_owner(self, bus_name: str, process: ManagedProcess) -> None:
        bus = await MessageBus(bus_address=self.address).connect()
        try:

            async def owned() -> bool:
                body = await ask_bus_daemon(bus, "NameHasOwner", bus_name)
                return bool(body and body[0] is True)

            reason = f"{bus_name} has no owner"
            try:
                found: bool = await wait_until(owned, 10, message=f"{bus_name} has an owner")
            except WaitTimeout as exc:
                found, reason = False, str(exc)
            if not found:
                raise LabError(f"{reason}; {process.name} said:\n{process.tail()}")
        finally:
            bus.disconnect()

    # -- looking at it --------------------------------------------------------------------------

    async def hostname(self) -> str:
        """The kernel host name in the sandbox's UTS namespace."""
        return await self.sandbox.hostname()

    async def resolvectl(self, *args: str) -> str:
        binary = str(resolved_root() / "usr/bin/resolvectl")
        address = f"DBUS_SYSTEM_BUS_ADDRESS={self.address}"
        return await self.sandbox.run("env", address, binary, *args)

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()}" for p in self.history)
