"""The kernel as the command line reads it (``netevd wait``, ``netevd test``): the same raw
sockets and decoder as the kernel source (netevd.kernel.rtnl, netevd.kernel.wire), folded into
a State by core.state, with every route followed."""

from __future__ import annotations

import errno
from collections.abc import AsyncGenerator

from netevd.core.events import KernelSnapshot
from netevd.core.follow import RouteFollow
from netevd.core.state import State, apply, apply_all, expand_snapshot
from netevd.kernel import rtnl
from netevd.kernel.snapshot import dump
from netevd.kernel.wire import Rejected, decode_all

ROUND = 64  # datagrams read before the picture is handed on


def _picture(snapshot: KernelSnapshot) -> State:
    state = State()
    return apply_all(state, expand_snapshot(state, snapshot))


async def current_state() -> State:
    """The kernel's picture now: links, addresses, routes (every table) and rules."""
    with rtnl.open_socket() as sock:
        return _picture(await dump(sock, RouteFollow()))


async def states() -> AsyncGenerator[State, None]:
    """The kernel's picture now, then again after each round of changes, for as long as the
    caller iterates. Subscribed before the dump, so nothing falls between; after an overrun
    (ENOBUFS: the kernel dropped messages) everything is dumped again."""
    while True:
        with (
            rtnl.open_socket(rtnl.GROUPS | rtnl.LINK_GROUPS) as changes,
            rtnl.open_socket() as requests,
        ):
            state = _picture(await dump(requests, RouteFollow()))
            yield state
            try:
                while True:
                    await rtnl.wait_readable(changes)
                    for data in rtnl.read_ready(changes, ROUND):
                        for _, decoded in decode_all(data):
                            if decoded is not None and not isinstance(decoded, Rejected):
                                state = apply(state, decoded)
                    yield state
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
