"""Reactions to what a network manager (systemd-networkd, NetworkManager) reports (pure).

Only the effective backend fires scripts. Every networkd OperationalState and AdministrativeState
value, and every NetworkManager device state (netevd.core.react.networkmanager), has its directory,
looked up in a fixed set; anything else is logged and counted, never run. Carrier changes come from
the kernel with every backend, so networkd's ``carrier`` and ``no-carrier`` operational states do
not fire a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netevd.core.actions import Action, RejectLink, RunScripts, SkipUnknownState
from netevd.core.compat import networkd_own_state, nm_device_changes, nm_manager_changes
from netevd.core.config import Config
from netevd.core.directories import Directory, directory_for
from netevd.core.environment import link_name_problem, validated
from netevd.core.events import (
    NETWORKD,
    NETWORKMANAGER,
    Context,
    Event,
    ManagerChanged,
    ManagerLinkChanged,
    VpnChanged,
)
from netevd.core.filters import monitored
from netevd.core.kinds import EventKind
from netevd.core.model import Link
from netevd.core.networkd_states import LINK_PROPERTIES, NETWORKD_MANAGER_PROPERTIES, STATE_VALUES
from netevd.core.nm_states import NM_MANAGER_PROPERTIES
from netevd.core.react.networkmanager import (
    device_directory,
    device_document,
    device_env,
    manager_env,
)
from netevd.core.react.vpn import react_vpns
from netevd.core.runs import apply_filters, manager_document, policy_env, script_run
from netevd.core.state import State
from netevd.core.views import LinkView, view

FIRED_BY_KERNEL = frozenset({"carrier", "no-carrier"})


def react_manager(
    before: State, after: State, event: Event, ctx: Context, config: Config
) -> list[Action]:
    match event:
        case ManagerLinkChanged(source, index):
            kind = EventKind.MANAGER_LINK
            return react_manager_links(before, after, source, (index,), ctx, config, kind)
        case ManagerChanged(source, properties):
            changed = tuple(k for k, _ in properties)
            runs = manager_run(after, source, changed, ctx, config)
            return runs + nm_manager_changes(after, changed, ctx, config)
        case VpnChanged(source, number) if source == NETWORKMANAGER:
            return react_vpns(before, after, (number,), ctx, config)
    return []


def react_manager_links(
    before: State,
    after: State,
    source: str,
    indexes: Iterable[int],
    ctx: Context,
    config: Config,
    kind: EventKind,
) -> list[Action]:
    """The directories the manager's new link states fire; *kind* is what EVENT says."""
    if after.backend != source or (ctx.replay and not config.scripts.run_startup_triggers):
        return []
    actions: list[Action] = []
    for index in sorted(indexes):
        actions += _link_states(before, after, source, index, ctx, config, kind)
    return apply_filters(actions, config)


def _link_view(state: State, source: str, index: int) -> LinkView | None:
    current = view(state, index)
    if current is not None:
        return current
    # The manager may speak of a link before the kernel's message reached us.
    name = state.managed_props(source, index).get("Name", "")
    return LinkView(Link(index, name), (), "", "", "unknown") if name else None


def _link_states(
    before: State,
    after: State,
    source: str,
    index: int,
    ctx: Context,
    config: Config,
    kind: EventKind,
) -> list[Action]:
    current = _link_view(after, source, index)
    if current is None:
        return []
    if problem := link_name_problem(current.link.name):
        return [RejectLink(index, current.link.name, problem)]
    if not monitored(current.link.name, config.monitoring):
        return []
    old, new = before.managed_props(source, index), after.managed_props(source, index)
    if source == NETWORKMANAGER:
        return _device_state(after, current, old, new, ctx, config, kind)
    actions: list[Action] = []
    for prop, allowed in STATE_VALUES.items():
        value = new.get(prop)
        if value is None or value == old.get(prop):
            continue
        directory = directory_for(value) if value in allowed else None
        if directory is None:
            actions.append(SkipUnknownState(source, index, f"{prop}={value}"))
        elif not (prop == "OperationalState" and value in FIRED_BY_KERNEL):
            extra = _link_env(after, source, index, new, config)
            run = script_run(current, directory, source, ctx, kind.value, after, extra=extra)
            actions.append(run)
        else:  # networkd-dispatcher runs networkd's own carrier states (compat:)
            actions += networkd_own_state(current, directory, ctx, kind.value, after, config)
    return actions


def _device_state(
    state: State,
    current: LinkView,
    old: Mapping[str, str],
    new: Mapping[str, str],
    ctx: Context,
    config: Config,
    kind: EventKind,
) -> list[Action]:
    """NetworkManager: the device's new state fires its directory, once (and a new DHCP lease
    NetworkManager-dispatcher's dhcp4-change/dhcp6-change, with compat.nm_dispatcher)."""
    changes = nm_device_changes(old, new, current, ctx, state, config)
    directory = device_directory(old, new)
    if directory is None:
        return changes
    if not isinstance(directory, Directory):  # the unknown value, named
        return [SkipUnknownState(NETWORKMANAGER, current.link.index, directory), *changes]
    env = device_env(new, current)
    extra = {**env, **policy_env(state, current.link.name, config)}
    sections = {"networkmanager": device_document(new)}
    run = script_run(
        current, directory, NETWORKMANAGER, ctx, kind.value, state, extra=extra, document=sections
    )
    return [*changes, run]


def _link_env(
    state: State, source: str, index: int, props: Mapping[str, str], config: Config
) -> dict[str, str]:
    extra = {name: props[name] for name in LINK_PROPERTIES if name in props}
    name = state.links[index].name if index in state.links else props.get("Name", "")
    extra.update(policy_env(state, name, config))
    describe = state.describe.get((source, index), "")
    if source == NETWORKD and config.backends.systemd_networkd.emit_json and describe:
        extra["JSON"] = describe
    return extra


def manager_run(
    state: State, source: str, changed: tuple[str, ...], ctx: Context, config: Config
) -> list[Action]:
    """``manager.d`` once for a manager-level change, with every known property."""
    names = NM_MANAGER_PROPERTIES if source == NETWORKMANAGER else NETWORKD_MANAGER_PROPERTIES
    if state.backend != source or not any(name in names for name in changed):
        return []
    if ctx.replay and not config.scripts.run_startup_triggers:
        return []
    props = state.manager.get(source, {})
    known = {name: props[name] for name in names if name in props}
    values = {
        "STATE": "manager",
        "BACKEND": source,
        "GENERATOR": source,
        "EVENT": EventKind.REPLAY.value if ctx.replay else EventKind.MANAGER.value,
        "NETEVD_SEQ": str(ctx.seq),
        "NETEVD_REPLAY": "1" if ctx.replay else "0",
        "NETEVD_JSON": manager_document(source, known, [c for c in changed if c in names], ctx),
        **(manager_env(known) if source == NETWORKMANAGER else known),
    }
    env, dropped = validated(values)
    run = RunScripts(
        Directory.MANAGER, 0, "", env, ctx.seq, ctx.replay, dropped=dropped, event_ts=ctx.ts
    )
    return apply_filters([run], config)
