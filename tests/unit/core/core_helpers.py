"""Small builders for core tests."""

from netevd.core.events import Context
from netevd.core.model import AF_INET, AF_INET6, IFF_LOWER_UP, IFF_UP, Addr, Link, Route

UP = IFF_UP | IFF_LOWER_UP


def link(index=3, name="eth0", flags=UP, **kw) -> Link:
    return Link(
        index=index,
        name=name,
        flags=flags,
        mtu=1500,
        mac="02:00:00:00:00:03",
        operstate="UP" if flags & IFF_LOWER_UP else "DOWN",
        kind="veth",
        **kw,
    )


def addr(address: str, index=3, prefixlen=None, scope=0) -> Addr:
    family = AF_INET6 if ":" in address else AF_INET
    if prefixlen is None:
        prefixlen = 64 if family == AF_INET6 else 24
    if address.startswith("fe80"):
        scope = 253
    return Addr(index=index, family=family, address=address, prefixlen=prefixlen, scope=scope)


def route(dst: str, oif=3, gateway="", table=254, protocol=4, priority=0, type_=1) -> Route:
    family = AF_INET6 if ":" in dst else AF_INET
    return Route(
        family=family,
        table=table,
        dst=dst,
        gateway=gateway,
        oif=oif,
        protocol=protocol,
        priority=priority,
        type=type_,
    )


def ctx(seq=1, replay=False, resync=False) -> Context:
    return Context(seq=seq, ts=1700000000.0, replay=replay, resync=resync)
