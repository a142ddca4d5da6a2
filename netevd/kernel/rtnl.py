"""rtnetlink sockets read as raw datagrams and decoded by netevd.kernel.wire.

Two kinds: a *subscribed* socket that joins the multicast groups and hands over whatever the
kernel sends (read in rounds, never blocking), and a *request* socket for dumps. They are kept
apart so that a socket filter (netevd.kernel.bpf) on the subscribed one can never swallow a dump
reply, and so that the source decides itself where a dump stands in the stream of changes.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import itertools
import socket
import struct
from collections.abc import AsyncIterator

from netevd.kernel.bpf import SockFilter
from netevd.kernel.wire import HEADER, NLMSG_DONE, NLMSG_ERROR, Decoded, decode_at, messages

NETLINK_ROUTE = 0
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLM_F_DUMP_INTR = 0x10
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETRULE, RTM_GETNEIGH = 18, 22, 26, 34, 30
IFLA_EXT_MASK = 29
RTEXT_FILTER_SKIP_STATS = 1 << 3
RTMGRP_LINK = 0x1
RTMGRP_NEIGH = 0x4  # joined only with monitoring.gateway_liveness (a busy host has thousands)
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV4_RULE = 0x80
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
RTMGRP_IPV6_RULE = 0x1000000  # 1 << (RTNLGRP_IPV6_RULE - 1)
LINK_GROUPS = RTMGRP_LINK
GROUPS = (  # everything but links, which the kernel source reads on a socket of their own
    RTMGRP_IPV4_IFADDR
    | RTMGRP_IPV6_IFADDR
    | RTMGRP_IPV4_ROUTE
    | RTMGRP_IPV6_ROUTE
    | RTMGRP_IPV4_RULE
    | RTMGRP_IPV6_RULE
)
DATAGRAM = 65536  # larger than any rtnetlink datagram (dump replies are at most 32 KiB)
DUMP_YIELD = 16  # dump datagrams (of up to ~200 messages each) between yields to the loop


class DumpInterrupted(OSError):
    """The kernel's tables changed while it was dumping them (NLM_F_DUMP_INTR): dump again.

    An OSError (EAGAIN), so every reader that treats a failed read as "change nothing, try
    later" (the routing executor, the command line) treats this one so too."""

    def __init__(self, kind: int) -> None:
        super().__init__(errno.EAGAIN, f"the kernel's tables changed during dump {kind}")


class _Instruction(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _Program(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Instruction)))


def open_socket(groups: int = 0, rcvbuf: int = 0) -> socket.socket:
    """A non-blocking NETLINK_ROUTE socket bound to *groups* (0: requests only)."""
    sock = socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0
    )
    try:
        sock.bind((0, groups))
        if rcvbuf:
            try:
                # SO_RCVBUFFORCE (CAP_NET_ADMIN) passes net.core.rmem_max.
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    except BaseException:
        sock.close()
        raise
    return sock


def attach_filter(sock: socket.socket, program: tuple[SockFilter, ...]) -> None:
    """SO_ATTACH_FILTER: the kernel runs *program* on every datagram before queueing it."""
    array = (_Instruction * len(program))(*(_Instruction(i.code, i.jt, i.jf, i.k) for i in program))
    fprog = _Program(len(program), ctypes.cast(array, ctypes.POINTER(_Instruction)))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))


def read_ready(sock: socket.socket, limit: int) -> list[bytes]:
    """Up to *limit* datagrams already queued on *sock*; OSError(ENOBUFS) after an overrun."""
    found: list[bytes] = []
    recv = sock.recv
    for _ in range(limit):
        try:
            found.append(recv(DATAGRAM))
        except BlockingIOError:
            break
    return found


async def wait_readable(*socks: socket.socket) -> None:
    """Until one of *socks* has something to read (or an error to report)."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    for sock in socks:
        loop.add_reader(sock.fileno(), _wake, ready)
    try:
        await ready
    finally:
        for sock in socks:
            loop.remove_reader(sock.fileno())


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


_sequence = itertools.count(1)


def dump_request(kind: int, seq: int, family: int = 0) -> bytes:
    """An NLM_F_DUMP request for every object of *kind* (RTM_GET*) of *family* (0: all)."""
    if kind == RTM_GETLINK:
        # ifinfomsg, then IFLA_EXT_MASK: skip the statistics netevd never reads.
        body = bytes(16) + struct.pack("=HHI", 8, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
    elif kind == RTM_GETADDR:
        body = bytes(8)  # ifaddrmsg
    else:
        body = bytes(12)  # rtmsg / fib_rule_hdr / ndmsg
    # Every one of these headers starts with its family byte.
    body = bytes([family]) + body[1:]
    return HEADER.pack(HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


async def dump(sock: socket.socket, kind: int, family: int = 0) -> AsyncIterator[Decoded]:
    """Every object of *kind* (of *family*, 0: all), decoded, from the request socket *sock*.

    OSError when the kernel answers with an error; DumpInterrupted when the tables changed
    under the dump (the caller dumps again)."""
    seq = next(_sequence)
    sock.send(dump_request(kind, seq, family))
    interrupted, datagrams = False, 0
    while True:
        data = await _recv(sock)
        datagrams += 1
        if datagrams % DUMP_YIELD == 0:
            await asyncio.sleep(0)  # a dump of a million routes must not hold the loop
        for message in messages(data):
            if message.seq != seq:
                continue  # a late answer to an abandoned dump
            interrupted = interrupted or bool(message.flags & NLM_F_DUMP_INTR)
            if message.type == NLMSG_DONE:
                if interrupted:
                    raise DumpInterrupted(kind)
                return
            if message.type == NLMSG_ERROR:
                raise _error(data, message.start)
            yield decode_at(data, message.type, message.start, message.end)


async def _recv(sock: socket.socket) -> bytes:
    while True:
        try:
            return sock.recv(DATAGRAM)
        except BlockingIOError:
            await wait_readable(sock)


def _error(data: bytes, start: int) -> OSError:
    code = -struct.unpack_from("=i", data, start + HEADER.size)[0]
    return OSError(code or errno.EIO, f"rtnetlink dump failed: {errno.errorcode.get(code, code)}")
