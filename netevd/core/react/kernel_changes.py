"""What the kernel says happened, as script directories of their own (pure), with every backend:
``link-added.d``, ``link-removed.d``, ``address-added.d``, ``address-removed.d``, ``mtu.d``,
``gateway.d``. Hooks on an address or a gateway without a change of the link's state are what
users of the dispatchers asked for (systemd #15722, #11629).

Each hook run carries its own values (``ADDRESS``, ``PREFIXLEN``, ``FAMILY``, ``SCOPE``;
``MTU``, ``MTU_OLD``; ``GATEWAY``, ``GATEWAY_OLD``, ``FAMILY``, ``EVENT=new|changed|del``) over
the usual environment. ``link-added.d`` and ``link-removed.d`` are complete at once (a removed
link cannot be looked at later). The others are pending runs like ``routes.d``: the hook's
own values wait for the link's quiet window, the newest of a burst wins, and the run is completed
with the link's picture when the window ends (netevd.core.react.pending); a storm of 20,000
addresses builds one environment, not 20,000. Hooks fire for live events and for what an
overrun's re-dump found changed, not for the start-up replay (the state directories are the
replay). Gateways are looked at only for main-table default routes, so a route storm stays
linear.
"""

from __future__ import annotations

from collections.abc import Iterable

from netevd.core.actions import Action
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.events import (
    KERNEL,
    AddressAdded,
    AddressRemoved,
    Context,
    Event,
    LinkChanged,
    LinkRemoved,
    NeighbourChanged,
    NeighbourRemoved,
    RouteAdded,
    RouteRemoved,
)
from netevd.core.kinds import EventKind
from netevd.core.model import AF_INET, AF_INET6, FAMILY_WORDS, RT_TABLE_MAIN, Addr, Link
from netevd.core.react.liveness import react_neighbour
from netevd.core.react.neighbours import react_listed
from netevd.core.react.pending import pending_run, scriptable
from netevd.core.runs import apply_filters, policy_env, script_run
from netevd.core.state import State, apply_all
from netevd.core.views import LinkView, gateway, view

FAMILIES = FAMILY_WORDS
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host"}
COALESCED = frozenset(
    {Directory.ADDRESS_ADDED, Directory.ADDRESS_REMOVED, Directory.MTU, Directory.GATEWAY}
)
Values = tuple[tuple[str, str], ...]


def react_hooks(
    before: State, after: State, event: Event, ctx: Context, config: Config
) -> list[Action]:
    """The hook runs one kernel event calls for."""
    if ctx.replay:
        return []
    match event:
        case LinkChanged(link):
            return _link_changed(before, after, link, ctx, config)
        case LinkRemoved(index):
            return _link_removed(before, index, ctx, config)
        case AddressAdded(addr) | AddressRemoved(addr):
            return _address(after, addr, isinstance(event, AddressAdded), ctx, config)
        case RouteAdded(route) | RouteRemoved(route):
            if not (route.is_default and route.table == RT_TABLE_MAIN and route.oif):
                return []
            return _gateway(before, after, route.oif, (route.family,), ctx, config)
        case NeighbourChanged() | NeighbourRemoved():
            actions = react_neighbour(before, after, event, ctx, config)
            return actions + react_listed(before, after, event, ctx, config)
    return []


def react_hooks_between(before: State, after: State, ctx: Context, config: Config) -> list[Action]:
    """A re-dump's differences as hooks (links, addresses, MTUs, gateways), link by link."""
    actions: list[Action] = []
    for index in sorted(set(before.links) | set(after.links)):
        old, new = before.links.get(index), after.links.get(index)
        if new is None:
            actions += _link_removed(before, index, ctx, config)
            continue
        actions += _link_changed(before, after, new, ctx, config)
        was = {a.key: a for a in before.link_addrs(index)}
        now = {a.key: a for a in after.link_addrs(index)}
        for key in sorted(now.keys() - was.keys()):
            actions += _address(after, now[key], True, ctx, config)
        for key in sorted(was.keys() - now.keys()):
            actions += _address(after, was[key], False, ctx, config)
        if old is not None:
            actions += _gateway(before, after, index, (AF_INET, AF_INET6), ctx, config)
    return actions


def _link_changed(
    before: State, after: State, link: Link, ctx: Context, config: Config
) -> list[Action]:
    old = before.links.get(link.index)
    if not scriptable(link, config):
        return []
    if old is None:
        current = view(after, link.index)
        return _complete(after, current, Directory.LINK_ADDED, ctx, EventKind.LINK, config)
    if old.mtu != link.mtu and old.mtu and link.mtu:
        values = (("MTU", str(link.mtu)), ("MTU_OLD", str(old.mtu)))
        return [pending_run(link, Directory.MTU, ctx, EventKind.LINK.value, values)]
    return []


def _link_removed(before: State, index: int, ctx: Context, config: Config) -> list[Action]:
    link = before.links.get(index)
    if link is None or not scriptable(link, config):
        return []
    # The kernel removes a link's addresses before the link, but the source hands a link's own
    # messages on ahead of queued address messages (a storm must not delay a carrier change)
    # and drops those of a link that is gone. Whichever came first, the result is the
    # kernel's: address-removed.d for what the link still had, and link-removed.d's last
    # picture without addresses.
    addrs = sorted(before.link_addrs(index), key=lambda a: a.sort_key)
    actions: list[Action] = []
    for addr in addrs:
        actions += _address(before, addr, False, ctx, config)
    bare = apply_all(before, [AddressRemoved(addr) for addr in addrs])
    current = view(bare, index)  # the link's last picture: it is gone from the new state
    kind = EventKind.LINK_REMOVED
    return actions + _complete(bare, current, Directory.LINK_REMOVED, ctx, kind, config)


def _address(state: State, addr: Addr, added: bool, ctx: Context, config: Config) -> list[Action]:
    link = state.links.get(addr.index)
    if link is None or not scriptable(link, config):
        return []
    if addr.link_local and not config.monitoring.link_local:
        return []
    directory = Directory.ADDRESS_ADDED if added else Directory.ADDRESS_REMOVED
    kind = EventKind.ADDRESS_ADDED if added else EventKind.ADDRESS_REMOVED
    values = (
        ("ADDRESS", addr.address),
        ("PREFIXLEN", str(addr.prefixlen)),
        ("FAMILY", FAMILIES.get(addr.family, str(addr.family))),
        ("SCOPE", SCOPES.get(addr.scope, str(addr.scope))),
    )
    return [pending_run(link, directory, ctx, kind.value, values)]


def _gateway(
    before: State,
    after: State,
    index: int,
    families: Iterable[int],
    ctx: Context,
    config: Config,
) -> list[Action]:
    link = after.links.get(index)
    if link is None or not scriptable(link, config):
        return []
    actions: list[Action] = []
    for family in families:
        old, new = gateway(before, index, family), gateway(after, index, family)
        if old == new:
            continue
        word = "new" if not old else "del" if not new else "changed"
        values = (
            ("GATEWAY", new),
            ("GATEWAY_OLD", old),
            ("FAMILY", FAMILIES[family]),
        )
        actions.append(pending_run(link, Directory.GATEWAY, ctx, word, values))
    return actions


def _complete(
    state: State,
    current: LinkView | None,
    directory: Directory,
    ctx: Context,
    kind: EventKind,
    config: Config,
) -> list[Action]:
    """A hook run built at once (link-added.d, link-removed.d), filtered."""
    if current is None:
        return []
    extra = policy_env(state, current.link.name, config)
    run = script_run(current, directory, KERNEL, ctx, kind.value, state, extra=extra)
    return apply_filters([run], config)
