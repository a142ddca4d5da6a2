"""The real DHCP world: a dnsmasq server node and a dhclient client node (Debian's binaries)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from lab.errors import LabError
from lab.process import ManagedProcess

# dhclient-script rewrites /etc/resolv.conf and may set the hostname: give it a private copy of
# the first (bind mount in the namespace's own mount namespace) and its own UTS namespace.
_SHADOW = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'


class DnsmasqServer(ManagedProcess):
    """dnsmasq serving DHCP (DNS off) on *interface* inside namespace *netns*."""

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
        extra: tuple[str, ...] = (),
    ) -> None:
        for value in (*pool, netmask, *((router,) if router else ()), *dns):
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise LabError(f"dnsmasq: {value!r} is not an IP address") from None
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.lease_file = self.workdir / "dnsmasq.leases"
        argv = [
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
            f"--dhcp-leasefile={self.lease_file}",
            f"--pid-file={self.workdir / 'dnsmasq.pid'}",
            "--log-dhcp",
        ]
        if router:
            argv.append(f"--dhcp-option=option:router,{router}")
        if dns:
            argv.append("--dhcp-option=option:dns-server," + ",".join(dns))
        if domain:
            argv.append(f"--dhcp-option=option:domain-name,{domain}")
        argv.extend(extra)
        super().__init__(argv, netns=netns, name=f"dnsmasq[{netns}]")

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await self.wait_for_log(r"DHCP, IP range", timeout)


class DhclientClient(ManagedProcess):
    """ISC dhclient in the foreground on *interface*, with its own lease file and resolv.conf."""

    def __init__(self, netns: str, interface: str, workdir: str | Path) -> None:
        self.workdir = Path(workdir)
        self.lease_dir = self.workdir / "leases"  # alone in its directory, so watchers see only it
        self.lease_dir.mkdir(parents=True, exist_ok=True)
        self.lease_file = self.lease_dir / "dhclient.leases"
        self.resolv_conf = self.workdir / "resolv.conf"
        self.resolv_conf.touch()
        argv = [
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            _SHADOW,
            str(self.resolv_conf),
            "dhclient",
            "-d",
            "-v",
            "-lf",
            str(self.lease_file),
            "-pf",
            str(self.workdir / "dhclient.pid"),
            interface,
        ]
        super().__init__(argv, netns=netns, name=f"dhclient[{netns}]")

    async def wait_bound(self, timeout: float = 15.0) -> str:
        """Wait for the lease; returns the bound address."""
        match = await self.wait_for_log(r"bound to (\S+)", timeout)
        return match.group(1)
