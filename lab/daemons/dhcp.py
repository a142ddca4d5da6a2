"""The real DHCP world: a dnsmasq server node and a dhclient client node (Debian's binaries)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.daemons.sandbox import SandboxSpec, join_argv, sandbox_argv
from lab.errors import LabError
from lab.net.build import run_command
from lab.process import ManagedProcess


@dataclass(frozen=True)
class LabSubnet:
    """A DHCP test subnet, ``10.231.<third>.0/24``: the server at .1, a pool and another (for
    "the server was reconfigured"), two DNS servers, and what the server offers besides the
    pool (``DnsmasqServer(..., pool=subnet.pool, **subnet.offer)``): a router, the DNS servers,
    a domain, a host name, two search domains and a renewal every 4 s."""

    third: int

    def _at(self, host: int) -> str:
        return f"10.231.{self.third}.{host}"

    @property
    def server(self) -> str:
        return self._at(1)

    @property
    def pool(self) -> tuple[str, str]:
        return self._at(100), self._at(150)

    @property
    def other_pool(self) -> tuple[str, str]:
        return self._at(200), self._at(220)

    @property
    def dns(self) -> tuple[str, str]:
        return self._at(53), self._at(54)

    @property
    def offer(self) -> dict[str, Any]:
        return {
            "router": self.server,
            "dns": self.dns,
            "domain": "lab.test",
            "host_name": "client-one",
            "search": ("lab.test", "example.org"),
            "renewal": 4,
        }


class DnsmasqServer(ManagedProcess):
    """dnsmasq serving DHCP (DNS off) on *interface* inside namespace *netns*.

    Besides the pool it can offer a router, DNS servers, a domain, a host name, search domains
    (option 119) and a renewal time (option 58: dhclient renews that often, though it writes
    its lease file at most every 15 s). :meth:`with_pool` makes the same server with another
    range, for "the server was reconfigured" (the client's renewal is NAKed, it gets a new
    address).
    """

    def __init__(
        self,
        netns: str,
        interface: str,
        workdir: str | Path,
        *,
        pool: tuple[str, str],
        netmask: str = "255.255.255.0",
        lease_time: str = "1h",
        router: str | None = None,
        dns: tuple[str, ...] = (),
        domain: str | None = None,
        host_name: str | None = None,
        search: tuple[str, ...] = (),
        renewal: int | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self._options: dict[str, Any] = dict(
            netmask=netmask, lease_time=lease_time, router=router, dns=dns, domain=domain,
            host_name=host_name, search=search, renewal=renewal, extra=extra,
        )  # fmt: skip
        self._place = (netns, interface, workdir)
        _check_addresses((*pool, netmask, *((router,) if router else ()), *dns))
        self.pool = pool
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.lease_file = self.workdir / "dnsmasq.leases"
        argv = _dnsmasq_argv(interface, self.workdir, self.lease_file, pool, netmask, lease_time)
        argv += _dhcp_options(router, dns, domain, host_name, search, renewal)
        argv.extend(extra)
        super().__init__(argv, netns=netns, name=f"dnsmasq[{netns}]")

    def with_pool(self, pool: tuple[str, str]) -> DnsmasqServer:
        """The same server (not started) handing out *pool* instead."""
        netns, interface, workdir = self._place
        return DnsmasqServer(netns, interface, workdir, pool=pool, **self._options)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await self.wait_for_log(r"DHCP, IP range", timeout)


def _check_addresses(values: tuple[str, ...]) -> None:
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise LabError(f"dnsmasq: {value!r} is not an IP address") from None


def _dnsmasq_argv(
    interface: str,
    workdir: Path,
    lease_file: Path,
    pool: tuple[str, str],
    netmask: str,
    lease_time: str,
) -> list[str]:
    return [
        "dnsmasq",
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0",
        "--log-facility=-",
        f"--interface={interface}",
        "--bind-interfaces",
        "--except-interface=lo",
        "--no-ping",  # the ping check costs 3 s per lease
        f"--dhcp-range={pool[0]},{pool[1]},{netmask},{lease_time}",
        "--dhcp-authoritative",
        f"--dhcp-leasefile={lease_file}",
        f"--pid-file={workdir / 'dnsmasq.pid'}",
        "--log-dhcp",
    ]


def _dhcp_options(
    router: str | None,
    dns: tuple[str, ...],
    domain: str | None,
    host_name: str | None,
    search: tuple[str, ...],
    renewal: int | None,
) -> list[str]:
    options = []
    if router:
        options.append(f"--dhcp-option=option:router,{router}")
    if dns:
        options.append("--dhcp-option=option:dns-server," + ",".join(dns))
    if domain:
        options.append(f"--dhcp-option=option:domain-name,{domain}")
    if host_name:
        options.append(f"--dhcp-option=12,{host_name}")  # dnsmasq has no name for option 12
    if search:
        options.append("--dhcp-option=option:domain-search," + ",".join(search))
    if renewal is not None:
        options.append(f"--dhcp-option=58,{renewal}")
    return options


class Dnsmasq6Server(ManagedProcess):
    """dnsmasq serving stateful DHCPv6 on *interface* (which needs an address in the range's
    /64): addresses from *pool*, DNS servers and search domains."""

    def __init__(
        self,
        netns: str,
        interface: str,
        workdir: str | Path,
        *,
        pool: tuple[str, str],
        dns: tuple[str, ...] = (),
        search: tuple[str, ...] = (),
        lease_time: str = "1h",
    ) -> None:
        for value in (*pool, *dns):
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                raise LabError(f"dnsmasq: {value!r} is not an IPv6 address") from None
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            "dnsmasq",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--port=0",
            "--log-facility=-",
            f"--interface={interface}",
            "--bind-interfaces",
            "--except-interface=lo",
            f"--dhcp-range={pool[0]},{pool[1]},64,{lease_time}",
            "--dhcp-authoritative",
            f"--dhcp-leasefile={self.workdir / 'dnsmasq6.leases'}",
            "--log-dhcp",
        ]
        if dns:
            argv.append("--dhcp-option=option6:dns-server," + ",".join(f"[{d}]" for d in dns))
        if search:
            argv.append("--dhcp-option=option6:domain-search," + ",".join(search))
        super().__init__(argv, netns=netns, name=f"dnsmasq6[{netns}]")

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await self.wait_for_log(r"DHCPv6, IP range", timeout)


class DhclientClient(ManagedProcess):
    """ISC dhclient in the foreground on *interface*, sandboxed (lab.daemons.sandbox).

    dhclient-script writes /etc/resolv.conf (through ``/etc/resolv.conf.dhclient-new.PID``)
    and may run ``hostname``: it runs with an overlay over /etc and its own UTS namespace, whose
    host name starts as *hostname* ("localhost" lets dhclient-script apply the DHCP host name,
    so a test can see it did so without touching the host). The lease file is alone in its own
    directory, so a watcher of that directory sees only it. ``ipv6`` runs ``dhclient -6``.
    """

    def __init__(
        self,
        netns: str,
        interface: str,
        workdir: str | Path,
        *,
        ipv6: bool = False,
        hostname: str = "localhost",
    ) -> None:
        self.workdir = Path(workdir)
        self.interface = interface
        self.lease_dir = self.workdir / "leases"
        self.lease_dir.mkdir(parents=True, exist_ok=True)
        self.lease_file = self.lease_dir / ("dhclient6.leases" if ipv6 else "dhclient.leases")
        self.sandbox_dir = self.workdir / "sandbox"
        self.family = ["-6"] if ipv6 else ["-4"]
        self.pid_file = self.workdir / ("dhclient6.pid" if ipv6 else "dhclient.pid")
        command = ["dhclient", *self.family, "-d", "-v", *self._files(), interface]
        argv = sandbox_argv(self.sandbox_dir, SandboxSpec(hostname=hostname), command)
        super().__init__(argv, netns=netns, name=f"dhclient[{netns}]")

    @property
    def resolv_conf(self) -> Path:
        """/etc/resolv.conf as dhclient-script left it in the sandbox (absent until written)."""
        return self.sandbox_dir / "etc-upper" / "resolv.conf"

    def _files(self) -> list[str]:
        return ["-lf", str(self.lease_file), "-pf", str(self.pid_file)]

    async def wait_bound(self, timeout: float = 15.0) -> str:
        """Wait for the (first) lease; returns the bound address."""
        pattern = r"Bound to lease|bound to (\S+)" if self.family == ["-6"] else r"bound to (\S+)"
        match = await self.wait_for_log(pattern, timeout)
        return match.group(1) or ""

    async def release(self, timeout: float = 15.0) -> str:
        """``dhclient -r`` in the same sandbox: DHCPRELEASE, the running dhclient stopped."""
        argv = ["dhclient", *self.family, "-r", "-v", *self._files(), self.interface]
        result = await run_command(join_argv(self.pid, argv), timeout=timeout)
        await self.wait_exit(timeout)
        return result.stdout + result.stderr

    async def sandbox_hostname(self) -> str:
        """The host name dhclient-script sees (its own UTS namespace)."""
        result = await run_command(join_argv(self.pid, ["hostname"], net=False))
        return result.stdout.strip()
