"""The real systemd-networkd in a lab namespace, with its own system bus.

The recipe (docs: lab-feasibility §2): networkd runs in the namespace's own mount namespace
(``ip netns exec`` makes one) with a private ``/run`` (a bind of ``<workdir>/run``, so the state
files stay visible from outside), ``/etc/systemd`` replaced by ``<workdir>/etc`` (our ``.network``
files and ``networkd.conf``), and ``/sys`` read-only, which makes networkd treat udev as absent
instead of waiting for it forever. It is started directly (no systemd as PID 1) and owns
``org.freedesktop.network1`` on a dbus-daemon of its own whose socket is a path in the workdir:
abstract sockets are per network namespace, a path is reachable from any namespace, so netevd in
the same namespace gets ``DBUS_SYSTEM_BUS_ADDRESS=unix:path=<workdir>/bus.sock``.

networkd drops to the ``systemd-network`` user, so the workdir is a world-searchable directory of
its own under /tmp (pytest's tmp_path is root-only). ``networkctl`` refuses to run outside
networkd's network namespace and reads ``/run/systemd/netif``: :meth:`NetworkdNode.networkctl`
enters both namespaces with ``nsenter``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from lab.daemons.bus import BUS_CONFIG, bus_address, bus_argv, bus_env
from lab.errors import LabError
from lab.lifecycle import Service
from lab.net.build import run_command
from lab.net.topology import Topology
from lab.process import ManagedProcess
from lab.wait import wait_until

NETWORKD_PATHS = ("/lib/systemd/systemd-networkd", "/usr/lib/systemd/systemd-networkd")
# Runs inside `ip netns exec NS`, i.e. already in a mount namespace of its own; $1 is the workdir.
_RUN_NETWORKD = """set -eu
D=$1
mount --make-rprivate /
mount --bind "$D/run" /run
mount --bind "$D/etc" /etc/systemd
mount -o remount,ro /sys
mkdir -p /run/systemd/netif/links /run/systemd/netif/leases /run/systemd/netif/lldp
chown -R systemd-network:systemd-network /run/systemd/netif
exec "$2"
"""
OWNED = r"Successfully acquired requested service name|acquired .*org\.freedesktop\.network1"
# The real networkd-dispatcher, from Debian's package, extracted by scripts/install-deps.sh.
NETWORKD_DISPATCHER = "/var/cache/netevd-lab/networkd-dispatcher/usr/bin/networkd-dispatcher"
SYSTEM_PYTHON = "/usr/bin/python3"  # with python3-dbus and python3-gi, as the package needs


def networkd_dispatcher_available() -> str | None:
    """Why the real networkd-dispatcher cannot run here, or None when it can."""
    if not Path(NETWORKD_DISPATCHER).is_file():
        return f"no {NETWORKD_DISPATCHER} (scripts/install-deps.sh extracts it)"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import dbus, gi"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "the system python3 lacks python3-dbus or python3-gi"
    return None


def networkd_binary() -> str:
    for path in NETWORKD_PATHS:
        if Path(path).is_file():
            return path
    raise LabError("systemd-networkd is not installed (Debian: apt-get install systemd)")


def dhcp_client_network(link: str, *, extra: str = "") -> str:
    """A ``.network`` for a DHCPv4 client on *link* (no IPv6: fast and deterministic)."""
    return (
        f"[Match]\nName={link}\n\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\n"
        f"LinkLocalAddressing=no\n{extra}"
    )


def dhcp_server_network(
    link: str, address: str, *, pool_offset: int = 100, pool_size: int = 20
) -> str:
    """A ``.network`` for networkd's own DHCP server on *link* (router = *address*)."""
    return (
        f"[Match]\nName={link}\n\n[Network]\nAddress={address}\nDHCPServer=yes\n"
        "IPv6AcceptRA=no\nLinkLocalAddressing=no\n\n"
        f"[DHCPServer]\nPoolOffset={pool_offset}\nPoolSize={pool_size}\nEmitDNS=no\n"
        "EmitRouter=yes\n"
    )


def networkd_dhcp() -> Topology:
    """``client`` and ``server`` namespaces joined by a veth (distinct ifindexes 40/41)."""
    t = Topology().add_netns("client").add_netns("server")
    t.add_veth("eth0", "client", "eth0", "server", index=40, peer_index=41)
    return t


class NetworkdNode(Service):
    """``async with NetworkdNode(ns, {"10-eth0.network": text}) as node:`` networkd + its bus."""

    def __init__(
        self,
        netns: str,
        networks: Mapping[str, str] | None = None,
        *,
        networkd_conf: str = "[Network]\n",
        name: str = "networkd",
    ) -> None:
        self.netns = netns
        self.name = name
        self.workdir = Path(tempfile.mkdtemp(prefix="netevd-networkd-"))
        self.workdir.chmod(0o755)  # networkd (user systemd-network) must reach the bus socket
        self.bus_socket = self.workdir / "bus.sock"
        self.run_dir = self.workdir / "run"
        self.network_dir = self.workdir / "etc" / "network"
        for directory in (self.run_dir, self.network_dir):
            directory.mkdir(parents=True)
            directory.chmod(0o755)
        (self.workdir / "etc").chmod(0o755)
        self.write_networkd_conf(networkd_conf)
        for filename, text in (networks or {}).items():
            self.write_network(filename, text)
        self.bus: ManagedProcess | None = None
        self.networkd: ManagedProcess | None = None
        self.dispatcher: ManagedProcess | None = None  # the real networkd-dispatcher, if asked
        self.history: list[ManagedProcess] = []  # every process started, for their output

    # -- configuration --------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return bus_address(self.bus_socket)

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to use this node's bus as its system bus."""
        return bus_env(self.bus_socket)

    def write_network(self, filename: str, text: str) -> Path:
        if "/" in filename or not filename.endswith((".network", ".netdev", ".link")):
            raise LabError(f"{filename!r} is not a networkd unit file name")
        path = self.network_dir / filename
        path.write_text(text)
        path.chmod(0o644)
        return path

    def write_networkd_conf(self, text: str) -> Path:
        path = self.workdir / "etc" / "networkd.conf"
        path.write_text(text)
        path.chmod(0o644)
        return path

    # -- life -----------------------------------------------------------------------------------

    async def start(self) -> Self:
        try:
            await self.start_bus()
            await self.start_networkd()
        except BaseException:
            await self.stop()
            raise
        return self

    async def start_bus(self) -> None:
        if self.bus is not None and self.bus.running:
            raise LabError(f"{self.name}: the bus is already running")
        config = self.workdir / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.bus_socket))
        self.bus = self._remember(
            ManagedProcess(bus_argv(config), netns=self.netns, name="dbus-daemon")
        )
        await self.bus.start()
        await self.bus.wait_for_log(r"^unix:", timeout=10, stream="stdout")

    async def start_networkd(self, timeout: float = 10.0) -> None:
        if self.networkd is not None and self.networkd.running:
            raise LabError(f"{self.name}: networkd is already running")
        argv = ["sh", "-c", _RUN_NETWORKD, "run-networkd", str(self.workdir), networkd_binary()]
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "SYSTEMD_LOG_LEVEL": "debug",
            "SYSTEMD_LOG_TARGET": "console",
            **self.env,
        }
        self.networkd = self._remember(
            ManagedProcess(argv, netns=self.netns, env=env, name=f"{self.name}[{self.netns}]")
        )
        await self.networkd.start()
        await self.networkd.wait_for_log(OWNED, timeout)

    async def start_dispatcher(
        self, script_dir: Path, *, startup_triggers: bool = True, timeout: float = 15.0
    ) -> ManagedProcess:
        """The real networkd-dispatcher (``-S script_dir``, ``-T`` unless told otherwise) on
        this node's bus, in networkd's network and mount namespaces (it runs ``networkctl``).
        Returns once its start-up triggers have run (``Startup complete``)."""
        if self.networkd is None or not self.networkd.running:
            raise LabError(f"{self.name}: start networkd before networkd-dispatcher")
        argv = ["nsenter", "-t", str(self.networkd.pid), "-n", "-m", "env", "-i"]
        argv += ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"DBUS_SYSTEM_BUS_ADDRESS={self.address}"]
        argv += ["LANG=C.UTF-8", SYSTEM_PYTHON, NETWORKD_DISPATCHER, "-S", str(script_dir), "-v"]
        argv += ["-T"] if startup_triggers else []
        proc = self._remember(ManagedProcess(argv, name=f"networkd-dispatcher[{self.netns}]"))
        self.dispatcher = proc
        await proc.start()
        await proc.wait_for_log(r"Startup complete", timeout)
        return proc

    async def stop_networkd(self) -> None:
        if self.networkd is not None:
            await self.networkd.stop()

    async def stop_bus(self) -> None:
        if self.bus is not None:
            await self.bus.stop()
        self.bus_socket.unlink(missing_ok=True)

    async def stop(self) -> None:
        """Stop networkd (and networkd-dispatcher) and its bus; remove the workdir (idempotent)."""
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.stop_networkd()
        await self.stop_bus()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _remember(self, proc: ManagedProcess) -> ManagedProcess:
        self.history.append(proc)
        return proc

    # -- looking at it --------------------------------------------------------------------------

    async def networkctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``networkctl ARGS`` in networkd's network and mount namespaces, on its bus."""
        if self.networkd is None or not self.networkd.running:
            raise LabError(f"{self.name}: networkd is not running")
        argv = ["nsenter", "-t", str(self.networkd.pid), "-n", "-m", "env"]
        argv += [f"DBUS_SYSTEM_BUS_ADDRESS={self.address}", "networkctl", "--no-pager", *args]
        return await run_command(argv, check=check)

    async def status(self, link: str) -> dict[str, Any]:
        """``networkctl status --json=short LINK``, parsed."""
        result = await self.networkctl("status", "--json=short", link)
        doc = json.loads(result.stdout)
        if not isinstance(doc, dict):
            raise LabError(f"networkctl status {link}: not a JSON object")
        return doc

    async def wait_for(
        self,
        link: str,
        *,
        operational: str | None = None,
        administrative: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Wait until *link* shows these states (networkd writes no event we could wait on)."""

        async def reached() -> dict[str, Any] | None:
            doc = await self.status(link)
            ok = operational in (None, doc.get("OperationalState")) and administrative in (
                None,
                doc.get("AdministrativeState"),
            )
            return doc if ok else None

        want = f"{link} operational={operational} administrative={administrative}"
        found: dict[str, Any] | None = await wait_until(reached, timeout, message=want)
        if found is None:  # wait_until returns only a truthy value; this keeps mypy honest
            raise LabError(f"{self.name}: {want} not reached")
        return found

    def output(self) -> str:
        return "\n".join(proc.output() for proc in self.history)
