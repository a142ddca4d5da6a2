"""Lab: builds a Topology with pyroute2 and tears down exactly what it built.

Every namespace is named ``<prefix><name>`` and every root-namespace link ``<prefix><name>``,
so parallel runs never collide and teardown (or ``python -m lab cleanup``) touches only this
run's objects. What was created is recorded as it is created; teardown walks the record in
reverse even when building or the body raised.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

from pyroute2 import AsyncIPRoute
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_NEWLINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from lab.errors import LabError, TopologyError
from lab.net.naming import IFNAMSIZ, new_prefix, prefix_problem
from lab.net.netns import create_netns, list_netns, netns_path, remove_netns, write_sysctl
from lab.net.topology import ROOT, Address, Link, Route, Topology
from lab.process import ManagedProcess
from lab.wait import wait_until

IFA_F_NODAD = 0x02
P = TypeVar("P", bound=ManagedProcess)
CREATE_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL


@dataclass(frozen=True, slots=True)
class Created:
    kind: str  # "netns" | "link" (root-namespace link) | "process"
    name: str


class Lab:
    """An instance of a Topology: ``async with Lab(topo) as lab: ...``."""

    def __init__(self, topology: Topology, prefix: str | None = None) -> None:
        self.topology = topology
        self.prefix = prefix or new_prefix()
        if problem := prefix_problem(self.prefix):
            raise TopologyError(problem)
        for link in topology.root_links():
            if len((self.prefix + link.name).encode()) > IFNAMSIZ:
                raise TopologyError(
                    f"root-namespace link {self.prefix + link.name!r} (prefix + name) "
                    f"exceeds {IFNAMSIZ} bytes"
                )
        self.created: list[Created] = []
        self.processes: list[ManagedProcess] = []

    # -- names ----------------------------------------------------------------------------------

    def ns(self, name: str) -> str:
        """The real namespace name of logical namespace *name* ("" for the root namespace)."""
        if name == ROOT:
            return ""
        if name not in self.topology.namespaces:
            raise TopologyError(f"unknown namespace {name!r} (declare it with add_netns first)")
        return self.prefix + name

    def link_name(self, name: str, ns: str) -> str:
        return self.prefix + name if ns == ROOT else name

    def netns_path(self, name: str) -> str:
        return str(netns_path(self.ns(name)))

    # -- life -----------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.build()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.teardown()

    def up(self) -> None:
        """Synchronous build, for the CLI."""
        asyncio.run(self.build())

    def down(self) -> None:
        asyncio.run(self.teardown())

    async def build(self) -> None:
        try:
            await self._build()
        except BaseException:
            await self.teardown()
            raise

    async def _build(self) -> None:
        topo = self.topology
        for name in topo.namespaces:
            real = self.prefix + name
            await asyncio.to_thread(create_netns, real)
            self.created.append(Created("netns", real))
            async with self.ipr(name) as ipr:
                await ipr.link("set", index=1, state="up")
        link_names = {link.name for link in topo.links}
        early = [s for s in topo.sysctls if not _mentions_link(s.key, link_names)]
        late = [s for s in topo.sysctls if _mentions_link(s.key, link_names)]
        await self._sysctls(early)
        await self._links()
        await self._ports()
        await self._sysctls(late)
        for addr in topo.addresses:
            await self._address(addr)
        await self._set_states()
        for route in topo.routes:
            await self._route(route)

    async def teardown(self) -> None:
        """Undo everything recorded, newest first. Errors are collected, not short-circuited."""
        problems: list[str] = []
        for proc in reversed(self.processes):
            try:
                await proc.stop()
            except Exception as exc:
                problems.append(f"process {proc.name}: {exc}")
        self.processes.clear()
        for item in reversed(self.created):
            try:
                await asyncio.to_thread(_undo, item)
            except Exception as exc:
                problems.append(f"{item.kind} {item.name}: {exc}")
        self.created.clear()
        if problems:
            raise LabError("teardown left problems: " + "; ".join(problems))

    def leftovers(self) -> list[str]:
        """What still carries this lab's prefix: namespaces and root-namespace links."""
        found = [f"netns {n}" for n in list_netns() if n.startswith(self.prefix)]
        found += [f"link {n}" for n in root_link_names() if n.startswith(self.prefix)]
        return found

    # -- helpers for tests and the CLI ------------------------------------------------------------

    def ipr(self, ns: str) -> AsyncIPRoute:
        """An AsyncIPRoute inside logical namespace *ns* (never creates a namespace)."""
        real = self.ns(ns)
        return AsyncIPRoute(netns=real, flags=0) if real else AsyncIPRoute()

    async def start_process(self, proc: P) -> P:
        """Start *proc* and stop it at teardown (before namespaces go)."""
        self.processes.append(proc)
        await proc.start()
        return proc

    async def run(
        self, ns: str, *argv: str, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a short command inside namespace *ns* and return its output."""
        cmd = ["ip", "netns", "exec", self.ns(ns), *argv] if self.ns(ns) else list(argv)
        return await run_command(cmd, check=check, timeout=timeout)

    async def ip_json(self, ns: str, *args: str) -> Any:
        """``ip -n NS -j ARGS`` parsed, as a user would look at the namespace."""
        return await ip_json(self.ns(ns), *args)

    async def set_carrier(
        self, ns: str, link: str, state: str, seen_in: str, seen_link: str
    ) -> None:
        """Set *link* in *ns* ``up`` or ``down`` and return once *seen_link* in *seen_in* (its veth
        peer) shows the carrier that follows: the kernel's link watch reports the state it finds
        when it runs, so an up right after a down (a busy machine) could show no change at all."""
        await self.run(ns, "ip", "link", "set", link, state)

        async def shown() -> bool:
            (found,) = await self.ip_json(seen_in, "link", "show", "dev", seen_link)
            return ("NO-CARRIER" in found["flags"]) == (state == "down")

        predicate: Callable[[], bool | Awaitable[bool]] = shown
        await wait_until(predicate, 10, message=f"{seen_in}:{seen_link} after {ns}:{link} {state}")

    async def cycle_carrier(self, ns: str, link: str, seen_in: str, seen_link: str) -> None:
        """Carrier off and on at *seen_link*: *link* down, seen, then up."""
        await self.set_carrier(ns, link, "down", seen_in, seen_link)
        await self.run(ns, "ip", "link", "set", link, "up")

    # -- building steps ---------------------------------------------------------------------------

    async def _sysctls(self, items: Sequence[Any]) -> None:
        for item in items:
            await asyncio.to_thread(write_sysctl, self.ns(item.ns), item.key, item.value)

    async def _links(self) -> None:
        done: set[tuple[str, str]] = set()
        for link in self.topology.links:
            if (link.ns, link.name) in done:
                continue
            if link.kind == "veth" and link.peer is not None and link.peer_ns is not None:
                await self._add_veth(link, self.topology.link(link.peer, link.peer_ns))
                done.add((link.peer_ns, link.peer))
            else:
                await self._add_simple(link)
            done.add((link.ns, link.name))

    async def _add_veth(self, link: Link, peer: Link) -> None:
        msg = ifinfmsg()
        if link.index is not None:
            msg["index"] = link.index
        peer_msg: dict[str, Any] = {"attrs": [["IFLA_IFNAME", self.link_name(peer.name, peer.ns)]]}
        if peer.index is not None:
            peer_msg["index"] = peer.index
        fd = os.open(netns_path(self.ns(peer.ns)), os.O_RDONLY) if peer.ns != ROOT else -1
        if fd >= 0:
            peer_msg["attrs"].append(["IFLA_NET_NS_FD", fd])
        info = {"attrs": [["VETH_INFO_PEER", peer_msg]]}
        msg["attrs"] = [
            ["IFLA_IFNAME", self.link_name(link.name, link.ns)],
            ["IFLA_LINKINFO", {"attrs": [["IFLA_INFO_KIND", "veth"], ["IFLA_INFO_DATA", info]]}],
        ]
        try:
            async with self.ipr(link.ns) as ipr:
                await self._create(link, ipr.nlm_request(msg, RTM_NEWLINK, CREATE_FLAGS))
        finally:
            if fd >= 0:
                os.close(fd)
        self._record_root(link)
        self._record_root(peer)

    async def _add_simple(self, link: Link) -> None:
        kwargs: dict[str, Any] = {"ifname": self.link_name(link.name, link.ns), "kind": link.kind}
        if link.index is not None:
            kwargs["index"] = link.index
        async with self.ipr(link.ns) as ipr:
            await self._create(link, ipr.link("add", **kwargs))
        self._record_root(link)

    async def _create(self, link: Link, request: Any) -> None:
        try:
            result = await request
            if hasattr(result, "__aiter__"):
                async for _ in result:
                    pass
        except NetlinkError as exc:
            where = f"{link.name!r} in {link.ns or 'the root namespace'!r}"
            if exc.code in (95, 22) and link.kind not in ("veth", "bridge"):
                raise LabError(
                    f"the kernel refused link kind {link.kind!r} for {where}: {exc.args[1]} "
                    "(this kernel has no such driver; build topologies from veth and bridges)"
                ) from exc
            raise LabError(f"cannot create {link.kind} {where}: {exc.args[1]}") from exc

    def _record_root(self, link: Link) -> None:
        if link.ns == ROOT:
            self.created.append(Created("link", self.link_name(link.name, link.ns)))

    async def _ports(self) -> None:
        for port in self.topology.ports:
            async with self.ipr(port.ns) as ipr:
                master = await self._index(ipr, port.bridge, port.ns)
                index = await self._index(ipr, port.link, port.ns)
                await ipr.link("set", index=index, master=master)

    async def _address(self, addr: Address) -> None:
        async with self.ipr(addr.ns) as ipr:
            index = await self._index(ipr, addr.link, addr.ns)
            flags = IFA_F_NODAD if addr.interface.version == 6 else 0
            await ipr.addr(
                "add",
                index=index,
                address=str(addr.interface.ip),
                prefixlen=addr.interface.network.prefixlen,
                flags=flags,
            )

    async def _set_states(self) -> None:
        for link in self.topology.links:
            async with self.ipr(link.ns) as ipr:
                index = await self._index(ipr, link.name, link.ns)
                await ipr.link("set", index=index, state="up" if link.up else "down")

    async def _route(self, route: Route) -> None:
        spec: dict[str, Any] = {
            "dst": str(route.dst),
            "family": 10 if route.dst.version == 6 else 2,
        }
        if route.via is not None:
            spec["gateway"] = str(route.via)
        if route.table is not None:
            spec["table"] = route.table
        if route.metric is not None:
            spec["priority"] = route.metric
        async with self.ipr(route.ns) as ipr:
            if route.dev is not None:
                spec["oif"] = await self._index(ipr, route.dev, route.ns)
            try:
                await ipr.route("add", **spec)
            except NetlinkError as exc:
                raise LabError(
                    f"cannot add route {route.dst} in {route.ns!r}: {exc.args[1]}"
                ) from exc

    async def _index(self, ipr: AsyncIPRoute, name: str, ns: str) -> int:
        found = await ipr.link_lookup(ifname=self.link_name(name, ns))
        if not found:
            raise LabError(f"link {name!r} vanished from namespace {ns!r}")
        return int(found[0])


def _mentions_link(key: str, links: set[str]) -> bool:
    parts = key.split(".")
    return any(part in links for part in parts[3:4]) and "conf" in parts


def _undo(item: Created) -> None:
    if item.kind == "netns":
        remove_netns(item.name)
    elif item.kind == "link":
        delete_root_link(item.name)


def root_link_names() -> list[str]:
    return [entry.name for entry in os.scandir("/sys/class/net")]


def delete_root_link(name: str) -> None:
    """Delete root-namespace link *name*; already gone is fine."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            ipr.link("del", index=found[0])


async def ip_json(netns: str, *args: str, timeout: float = 30.0) -> Any:
    """``ip -n NETNS -j ARGS`` parsed (*netns*: the namespace's real name; see Lab.ip_json)."""
    result = await run_command(["ip", "-n", netns, "-j", *args], timeout=timeout)
    return json.loads(result.stdout or "[]")


async def run_command(
    argv: Sequence[str], *, check: bool = True, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run *argv* (no shell) and capture its output; a failure names the command and its stderr."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise LabError(f"{' '.join(argv)} did not finish within {timeout:g}s") from None
    result = subprocess.CompletedProcess(
        list(argv), proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )
    if check and result.returncode != 0:
        raise LabError(
            f"{' '.join(argv)} failed with exit code {result.returncode}: {result.stderr.strip()}"
        )
    return result
