"""``compat:``: the scripts of networkd-dispatcher and NetworkManager-dispatcher, run unchanged.

Two ways a compat run comes about, both pure:

- :func:`compat_actions` follows a step's actions: after each of netevd's own link runs it puts
  the compat runs that go with it (``routable.d`` of networkd-dispatcher's tree after netevd's
  ``routable.d``; NetworkManager-dispatcher's ``up`` after ``activated.d``), so one link's
  compat runs queue behind netevd's for the same event;
- where netevd itself runs nothing, the manager reactions ask for them here: networkd's own
  ``carrier``/``no-carrier`` (netevd's carrier comes from the kernel), NetworkManager's
  ``dhcp4-change``/``dhcp6-change``, ``connectivity-change`` and ``hostname``.

A compat run carries its tree (netevd.core.trees.Tree), the other tool's environment
(netevd.core.compat.networkd_dispatcher, netevd.core.compat.nm_dispatcher) and netevd's NETEVD_SEQ,
NETEVD_REPLAY and NETEVD_JSON. Filters apply to them as to netevd's own runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from netevd.core.actions import Action, RunScripts
from netevd.core.compat.networkd_dispatcher import dispatcher_run, networkd_dispatcher_runs
from netevd.core.compat.nm_dispatcher import (
    device_run,
    dhcp_options,
    manager_run,
    nm_dispatcher_runs,
)
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.events import NETWORKD, NETWORKMANAGER, Context
from netevd.core.kinds import EventKind
from netevd.core.runs import apply_filters, event_document, manager_document, script_run
from netevd.core.state import State
from netevd.core.trees import Tree
from netevd.core.views import LinkView

DHCP_ACTIONS = (("4", "dhcp4-change"), ("6", "dhcp6-change"))


def compat_actions(actions: tuple[Action, ...], state: State, config: Config) -> tuple[Action, ...]:
    """*actions* with, after each of netevd's own link runs, the compat runs that go with it."""
    compat = config.compat
    if not (compat.networkd_dispatcher or compat.nm_dispatcher):
        return actions
    result: list[Action] = []
    for action in actions:
        result.append(action)
        if not isinstance(action, RunScripts) or action.tree != Tree.NETEVD:
            continue
        if compat.networkd_dispatcher:
            result += networkd_dispatcher_runs(action, state)
        if compat.nm_dispatcher:
            result += nm_dispatcher_runs(action, state)
    return tuple(result)


def networkd_own_state(
    current: LinkView, directory: Directory, ctx: Context, kind: str, state: State, config: Config
) -> list[Action]:
    """networkd-dispatcher's run for networkd's ``carrier``/``no-carrier`` OperationalState,
    which fires no netevd directory (the kernel's carrier does)."""
    if not config.compat.networkd_dispatcher:
        return []
    run = script_run(current, directory, NETWORKD, ctx, kind, state)
    return [dispatcher_run(run, state)]


def nm_device_changes(
    old: Mapping[str, str],
    new: Mapping[str, str],
    current: LinkView,
    ctx: Context,
    state: State,
    config: Config,
) -> list[Action]:
    """``dhcp4-change``/``dhcp6-change`` when the device's DHCP options changed to a lease."""
    if not config.compat.nm_dispatcher or ctx.replay:
        return []
    runs: list[Action] = []
    for family, action in DHCP_ACTIONS:
        key = f"Dhcp{family}Options"
        if new.get(key) == old.get(key) or not dhcp_options(new.get(key, "")):
            continue
        passed = _passed(_link_document(current, action, ctx, state), ctx)
        found = device_run(state, current.link.index, current.link.name, action, passed, ctx)
        if found is not None:
            runs.append(found)
    return apply_filters(runs, config)


def nm_manager_changes(
    state: State, changed: tuple[str, ...], ctx: Context, config: Config
) -> list[Action]:
    """``connectivity-change`` (with CONNECTIVITY_STATE) and ``hostname`` for a change of the
    manager's Connectivity or Hostname; not for the start-up replay, which changes nothing."""
    if not config.compat.nm_dispatcher or ctx.replay or state.backend != NETWORKMANAGER:
        return []
    props = state.manager.get(NETWORKMANAGER, {})
    runs: list[Action] = []
    if "Connectivity" in changed:
        values = _passed(manager_document(NETWORKMANAGER, props, ["Connectivity"], ctx), ctx)
        connectivity = props.get("Connectivity", "unknown")
        if connectivity != "unknown":  # nm-dispatcher sets it for any other value only
            values["CONNECTIVITY_STATE"] = connectivity.upper()
        runs.append(manager_run("connectivity-change", values, ctx))
    if "Hostname" in changed:
        values = _passed(manager_document(NETWORKMANAGER, props, ["Hostname"], ctx), ctx)
        runs.append(manager_run("hostname", values, ctx))
    return apply_filters(runs, config)


def _passed(document: str, ctx: Context) -> dict[str, str]:
    return {
        "NETEVD_SEQ": str(ctx.seq),
        "NETEVD_REPLAY": "1" if ctx.replay else "0",
        "NETEVD_JSON": document,
    }


def _link_document(current: LinkView, action: str, ctx: Context, state: State) -> str:
    """The event document of a device change that fired *action* (its ``state``)."""
    kind = EventKind.MANAGER_LINK
    return event_document(
        current, Directory.ACTIVATED, NETWORKMANAGER, ctx, kind, state, state_name=action
    )
