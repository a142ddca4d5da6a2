"""The real NetworkManager in a lab namespace, with its own system bus (lab-feasibility §4).

NetworkManager runs in the namespace's own mount namespace (``ip netns exec`` makes one) with a
private ``/run`` and ``/var/lib/NetworkManager`` (binds of ``<workdir>/run`` and
``<workdir>/varlib``, kept across restarts so a restarted NM finds what the killed one left) and
``/sys`` read-only, which makes NM treat udev as absent instead of waiting for it forever. Its
configuration is ours alone (``--config``, ``--config-dir`` and ``--system-config-dir`` point into
the workdir): the keyfile plugin only, connections in ``<workdir>/conns``, the internal DHCP
client, no DNS or hostname handling, no connectivity check, and every interface unmanaged but
the ones named.

The bus is a separate dbus-daemon process whose socket is a path in the workdir (reachable from
any namespace), so NetworkManager can be SIGKILLed and started again while the bus stays, and the
bus restarted on its own. ``nmcli`` works from anywhere with ``DBUS_SYSTEM_BUS_ADDRESS`` set.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Self

from lab.daemons.bus import BUS_CONFIG, bus_address, bus_argv, bus_env
from lab.daemons.dhcp import DnsmasqServer
from lab.daemons.networkmanager_files import IFACE_RE, keyfile, nm_config
from lab.errors import LabError
from lab.lifecycle import Service
from lab.net.build import run_command
from lab.net.topology import Topology
from lab.process import ManagedProcess
from lab.wait import wait_until

if TYPE_CHECKING:
    from lab.net.build import Lab

NM_PATHS = ("/usr/sbin/NetworkManager", "/sbin/NetworkManager")
NM_DISPATCHER = "/usr/lib/NetworkManager/nm-dispatcher"
DISPATCHER_NAME = "org.freedesktop.nm_dispatcher"
# Runs inside `ip netns exec NS`, i.e. already in a mount namespace of its own; $1 is the workdir.
_RUN_NM = """set -eu
D=$1
mount --make-rprivate /
if [ -d "$D/etc-upper" ]; then  # own_hostname: what NM writes to /etc stays in the workdir
    mount -t overlay netevd-lab-etc \\
        -o "lowerdir=/etc,upperdir=$D/etc-upper,workdir=$D/etc-work" /etc
fi
mount --bind "$D/run" /run
mount --bind "$D/varlib" /var/lib/NetworkManager
mount --bind "$D/dispatcher/etc" /etc/NetworkManager/dispatcher.d
mount --bind "$D/dispatcher/lib" /usr/lib/NetworkManager/dispatcher.d
mount -o remount,ro /sys
mkdir -p /run/NetworkManager
shift
exec "$@"
"""
OWNED = r"acquired D-Bus service|NetworkManager \(version [^)]*\) is starting"
BUS_NAME = "org.freedesktop.NetworkManager"
# NMDeviceState: what `nmcli -g GENERAL.STATE` prints is "100 (connected)".
DEVICE_STATES = {
    "unknown": 0,
    "unmanaged": 10,
    "unavailable": 20,
    "disconnected": 30,
    "prepare": 40,
    "config": 50,
    "need-auth": 60,
    "ip-config": 70,
    "ip-check": 80,
    "secondaries": 90,
    "activated": 100,
    "deactivating": 110,
    "failed": 120,
}


def networkmanager_binary() -> str:
    for path in NM_PATHS:
        if Path(path).is_file():
            return path
    raise LabError("NetworkManager is not installed (Debian: apt-get install network-manager)")


def networkmanager_dhcp() -> Topology:
    """``client`` (NetworkManager) and ``server`` (dnsmasq) joined by a veth, ifindexes 10/11.

    Distinct indexes: the kernel reports carrier loss late for a link whose index equals its
    peer's. The server side gets ``10.231.80.1/24``.
    """
    t = Topology().add_netns("client").add_netns("server")
    t.add_veth("eth0", "client", "eth0", "server", index=10, peer_index=11)
    t.add_address("server", "eth0", "10.231.80.1/24")
    return t


NM_DHCP_POOL = ("10.231.80.100", "10.231.80.150")
NM_DHCP_ROUTER = "10.231.80.1"


async def networkmanager_dhcp_server(built: Lab, workdir: Path) -> DnsmasqServer:
    """dnsmasq on :func:`networkmanager_dhcp`'s ``server`` side, offering NM_DHCP_POOL with
    router NM_DHCP_ROUTER; started (the lab stops it) and ready."""
    server = DnsmasqServer(
        built.ns("server"), "eth0", workdir, pool=NM_DHCP_POOL, router=NM_DHCP_ROUTER
    )
    await built.start_process(server)
    await server.wait_ready()
    return server


class NetworkManagerNode(Service):
    """``async with NetworkManagerNode(ns, managed=["eth0"]) as nm:`` NetworkManager + its bus."""

    def __init__(
        self,
        netns: str,
        *,
        managed: Iterable[str] = ("eth0",),
        name: str = "NetworkManager",
        log_level: str = "DEBUG",
        own_hostname: bool = False,
        hostname_mode: str = "none",
    ) -> None:
        """*own_hostname*: NetworkManager runs in a UTS namespace of its own with an overlay on
        /etc, so ``nmcli general hostname`` (which writes /etc/hostname when no hostnamed is
        on the bus) and any host name it sets stay in the lab, never the host's.
        *hostname_mode*: NetworkManager.conf's (``none``, ``dhcp``, ``full``; not ``none``
        only with *own_hostname*)."""
        if hostname_mode != "none" and not own_hostname:
            raise LabError("a hostname_mode that sets host names needs own_hostname=True")
        self.netns = netns
        self.own_hostname = own_hostname
        self.name = name
        self.managed = tuple(managed)
        for iface in self.managed:
            if not IFACE_RE.fullmatch(iface):
                raise LabError(f"{iface!r} is not an interface name the lab uses")
        self.workdir = Path(tempfile.mkdtemp(prefix="netevd-nm-"))
        self.bus_socket = self.workdir / "bus.sock"
        self.run_dir = self.workdir / "run"
        self.varlib = self.workdir / "varlib"
        self.conns = self.workdir / "conns"
        self.confd = self.workdir / "confd"
        for directory in (self.run_dir, self.varlib, self.conns, self.confd):
            directory.mkdir(mode=0o700)
        self._make_private_dirs()
        self.config = self.workdir / "NetworkManager.conf"
        self.config.write_text(nm_config(self.conns, self.managed, log_level, hostname_mode))
        self.bus: ManagedProcess | None = None
        self.nm: ManagedProcess | None = None
        self.dispatcher: ManagedProcess | None = None
        self.owner = ""  # NetworkManager's unique name on the bus, once started
        self.history: list[ManagedProcess] = []  # every process started, for their output

    def _make_private_dirs(self) -> None:
        """What NetworkManager's own dispatcher sees as /etc/NetworkManager/dispatcher.d and
        /usr/lib/NetworkManager/dispatcher.d: empty unless a test puts scripts there, so the
        host's dispatcher scripts (Debian's 01-ifupdown) never run in the lab; and with
        own_hostname the overlay /etc's directories."""
        self.dispatcher_etc = self.workdir / "dispatcher" / "etc"
        self.dispatcher_lib = self.workdir / "dispatcher" / "lib"
        for directory in (self.dispatcher_etc, self.dispatcher_lib):
            directory.mkdir(mode=0o755, parents=True)
        (self.workdir / "dispatcher").chmod(0o755)
        if self.own_hostname:
            for overlay in ("etc-upper", "etc-work"):
                (self.workdir / overlay).mkdir(mode=0o755)

    # -- configuration --------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return bus_address(self.bus_socket)

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to use this node's bus as its system bus."""
        return bus_env(self.bus_socket)

    async def add_connection(
        self,
        conn_id: str,
        iface: str,
        ipv4: str = "auto",
        *,
        ipv6: str = "disabled",
        autoconnect: bool = True,
        uuid: str | None = None,
        extra: str = "",
    ) -> Path:
        """Write a keyfile profile; a running NM is told to load it (``nmcli connection load``)."""
        path = self.conns / f"{conn_id}.nmconnection"
        text = keyfile(
            conn_id, iface, ipv4=ipv4, ipv6=ipv6, autoconnect=autoconnect, uuid=uuid, extra=extra
        )
        path.write_text(text)
        path.chmod(0o600)  # NM ignores keyfiles others may read
        if self.nm is not None and self.nm.running:
            await self.nmcli("connection", "load", str(path))
        return path

    # -- life -----------------------------------------------------------------------------------

    async def start(self) -> Self:
        try:
            await self.start_bus()
            await self.start_nm()
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

    async def start_nm(self, timeout: float = 10.0) -> None:
        """Start NetworkManager and wait until it owns its name on the bus."""
        if self.nm is not None and self.nm.running:
            raise LabError(f"{self.name}: NetworkManager is already running")
        argv = ["sh", "-c", _RUN_NM, "run-nm", str(self.workdir)]
        argv += ["unshare", "--uts", "--"] if self.own_hostname else []  # execs: same pid
        argv += [networkmanager_binary()]
        argv += [
            "--debug",  # foreground, log to stderr
            f"--config={self.config}",
            f"--config-dir={self.confd}",
            f"--system-config-dir={self.confd}",
            f"--state-file={self.varlib / 'NetworkManager.state'}",
        ]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **self.env}
        self.nm = self._remember(
            ManagedProcess(argv, netns=self.netns, env=env, name=f"{self.name}[{self.netns}]")
        )
        await self.nm.start()
        owner: str = await wait_until(self._owned, timeout, message=f"{self.name} owns {BUS_NAME}")
        self.owner = owner

    async def _owned(self) -> str:
        if self.nm is None or not self.nm.running:
            tail = self.nm.tail() if self.nm else ""
            raise LabError(f"{self.name} exited before owning {BUS_NAME}:\n{tail}")
        return await self.busctl_owner()

    async def start_dispatcher(self, timeout: float = 10.0) -> ManagedProcess:
        """The real ``nm-dispatcher`` (``--persist``) on this node's bus, in NetworkManager's
        mount and network namespaces: it runs the scripts of :attr:`dispatcher_etc` and
        :attr:`dispatcher_lib` (its /etc and /usr/lib ``dispatcher.d`` there) for every action
        NetworkManager dispatches. Start it before the actions it should see: nothing on a
        lab bus D-Bus-activates it."""
        if self.nm is None or not self.nm.running:
            raise LabError(f"{self.name}: start NetworkManager before its dispatcher")
        if self.dispatcher is not None and self.dispatcher.running:
            raise LabError(f"{self.name}: nm-dispatcher is already running")
        argv = ["nsenter", "-t", str(self.nm.pid), "-m", "-n", "env", "-i"]
        argv += ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"DBUS_SYSTEM_BUS_ADDRESS={self.address}"]
        argv += [NM_DISPATCHER, "--persist", "--debug"]
        self.dispatcher = self._remember(ManagedProcess(argv, name=f"nm-dispatcher[{self.netns}]"))
        await self.dispatcher.start()

        async def owned() -> str:
            if self.dispatcher is None or not self.dispatcher.running:
                raise LabError(
                    f"nm-dispatcher exited:\n{self.dispatcher and self.dispatcher.tail()}"
                )
            return await self.busctl_owner(DISPATCHER_NAME)

        what = f"nm-dispatcher owns {DISPATCHER_NAME}"
        self.dispatcher_owner: str = await wait_until(owned, timeout, message=what)
        return self.dispatcher

    async def busctl_owner(self, name: str = BUS_NAME) -> str:
        """The unique name owning *name* (NetworkManager's) on this bus ("" if none)."""
        argv = ["dbus-send", f"--bus={self.address}", "--print-reply=literal"]
        argv += ["--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"]
        argv += ["org.freedesktop.DBus.GetNameOwner", f"string:{name}"]
        result = await run_command(argv, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    async def stop_nm(self) -> None:
        """SIGTERM: NetworkManager leaves its devices configured as they are."""
        if self.nm is not None:
            await self.nm.stop()

    async def kill_nm(self) -> None:
        """SIGKILL, as a crash would: no cleanup, the bus notices the connection drop."""
        if self.nm is None or not self.nm.running:
            raise LabError(f"{self.name}: NetworkManager is not running")
        self.nm.send_signal(signal.SIGKILL)
        await self.nm.wait_exit()

    async def restart_nm(self, timeout: float = 10.0) -> None:
        await self.stop_nm()
        await self.start_nm(timeout)

    async def stop_bus(self) -> None:
        if self.bus is not None:
            await self.bus.stop()
        self.bus_socket.unlink(missing_ok=True)

    async def stop(self) -> None:
        """Stop NetworkManager, its dispatcher and its bus and remove the workdir (idempotent)."""
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.stop_nm()
        await self.stop_bus()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _remember(self, proc: ManagedProcess) -> ManagedProcess:
        self.history.append(proc)
        return proc

    # -- looking at it --------------------------------------------------------------------------

    async def nmcli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``nmcli ARGS`` on this node's bus (nmcli needs nothing else from NM's namespace)."""
        argv = ["env", f"DBUS_SYSTEM_BUS_ADDRESS={self.address}", "nmcli", *args]
        return await run_command(argv, check=check)

    async def device_state(self, iface: str) -> int | None:
        """The NMDeviceState number of *iface* (None when NM does not know the device)."""
        result = await self.nmcli("-g", "GENERAL.STATE", "device", "show", iface, check=False)
        number = result.stdout.split(" ", 1)[0]
        return int(number) if result.returncode == 0 and number.isdigit() else None

    async def wait_for_device_state(
        self, iface: str, state: str | int, timeout: float = 10.0
    ) -> int:
        """Wait until NM reports *iface* in *state* (a name such as ``activated`` or a number).

        NM has no file or log line to wait on per state: its own view is asked with a deadline.
        """
        wanted = DEVICE_STATES[state] if isinstance(state, str) else state

        async def reached() -> bool:
            return await self.device_state(iface) == wanted

        ok: bool = await wait_until(reached, timeout, message=f"{self.name}: {iface} in {state}")
        if not ok:  # wait_until returns only a truthy value; this keeps mypy honest
            raise LabError(f"{self.name}: {iface} never reached {state}")
        return wanted

    def output(self) -> str:
        return "\n".join(proc.output() for proc in self.history)
