"""``netevd test SCRIPT --interface X --state S [--tree T]``: run one script with the arguments
and environment a real event on X would give now, and show both.

The picture is the live one: the kernel's own (read here) and, when a netevd daemon answers at
its endpoint, what the network managers report for X (the daemon's ``backends`` of X and its
``managers``). ``--tree`` picks whose contract the script is run under: netevd's own
(``--state`` a netevd directory), networkd-dispatcher's (``--state`` one of its states) or
NetworkManager-dispatcher's (``--state`` the action: ``up``, ``down``, ``dhcp4-change``, ...;
``$1 $2`` as nm-dispatcher gives them), so a migrated script can be tried before ``compat:``
is turned on.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from netevd.client.http import DEFAULT_ENDPOINT, ENDPOINT_ENV, ApiClient, Endpoint
from netevd.core.actions import RunScripts
from netevd.core.compat import nm_manager_changes
from netevd.core.compat.networkd_dispatcher import STATES as NETWORKD_DISPATCHER_STATES
from netevd.core.compat.networkd_dispatcher import dispatcher_run
from netevd.core.compat.nm_dispatcher import ACTIONS as NM_DISPATCHER_ACTIONS
from netevd.core.compat.nm_dispatcher import device_run
from netevd.core.config import Config
from netevd.core.directories import Directory, directory_for
from netevd.core.environment import link_name_problem
from netevd.core.events import (
    KERNEL,
    NETWORKMANAGER,
    Context,
    ManagerChanged,
    ManagerLinkChanged,
    VpnChanged,
)
from netevd.core.nm_vpn import number_of, own_interface, parent_iface, parent_props
from netevd.core.react.vpn import react_vpns
from netevd.core.runs import script_run
from netevd.core.state import State, apply
from netevd.core.trees import Tree
from netevd.core.views import LinkView, view
from netevd.errors import RuntimeFailure, UsageError
from netevd.executors.scripts import run_script, script_environment
from netevd.kernel.watch import current_state

TREES = (Tree.NETEVD.value, Tree.NETWORKD_DISPATCHER.value, Tree.NM_DISPATCHER.value)
# NetworkManager's own actions, not a device's: the manager property whose change fires each
MANAGER_ACTIONS = {"connectivity-change": "Connectivity", "hostname": "Hostname"}
VPN_DIRECTORIES = frozenset({Directory.VPN_UP, Directory.VPN_DOWN})
VPN_ACTIONS = {"vpn-up": Directory.VPN_UP, "vpn-down": Directory.VPN_DOWN}  # nm-dispatcher's
# the VPN's VpnState before and after the transition that is tried (vpn-up: True)
VPN_BEFORE = {True: "ip-config-get", False: "activated"}
VPN_AFTER = {True: "activated", False: "disconnected"}
# What the kernel reports with every backend: these runs carry BACKEND=kernel
KERNELS = frozenset(
    {
        Directory.CARRIER,
        Directory.NO_CARRIER,
        Directory.ROUTES,
        Directory.LINK_ADDED,
        Directory.LINK_REMOVED,
        Directory.ADDRESS_ADDED,
        Directory.ADDRESS_REMOVED,
        Directory.MTU,
        Directory.GATEWAY,
    }
)
ASK = 5.0  # seconds the daemon has to answer


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _strings(value: object) -> tuple[tuple[str, str], ...]:
    """A JSON object of strings as properties; anything else in it is left out."""
    if not isinstance(value, dict):
        return ()
    return tuple((k, v) for k, v in sorted(value.items()) if isinstance(v, str))


def with_daemon(state: State, status: Any, interfaces: Any) -> State:
    """*state* with what the daemon's network managers report (its status and its interface
    documents).
    The values go through the same validation as every script value afterwards."""
    if isinstance(status, dict) and isinstance(status.get("backend"), str):
        state = replace(state, backend=status["backend"])
    managers = status.get("managers") if isinstance(status, dict) else None
    for source, props in sorted(managers.items()) if isinstance(managers, dict) else ():
        state = apply(state, ManagerChanged(str(source), _strings(props)))
    vpns = status.get("vpns") if isinstance(status, dict) else None
    for number, props in sorted(vpns.items()) if isinstance(vpns, dict) else ():
        if number_of(str(number)):
            state = apply(state, VpnChanged(NETWORKMANAGER, int(number), _strings(props)))
    for document in interfaces if isinstance(interfaces, list) else ():
        backends = document.get("backends") if isinstance(document, dict) else None
        index = document.get("ifindex") if isinstance(document, dict) else None
        if not isinstance(backends, dict) or not isinstance(index, int) or index not in state.links:
            continue  # the daemon's links are this namespace's: one it has and we lack is gone
        for source, props in sorted(backends.items()):
            state = apply(state, ManagerLinkChanged(str(source), index, _strings(props)))
    return state


async def ask_daemon(endpoint: str | None, env: Mapping[str, str]) -> tuple[Any, Any] | None:
    """(status, interface documents) from the running daemon; None when no daemon
    answers at the default endpoint (one named by --endpoint or the environment must)."""
    explicit = endpoint or env.get(ENDPOINT_ENV)
    async with ApiClient(Endpoint.parse(explicit or DEFAULT_ENDPOINT), timeout=ASK) as client:
        try:
            status = await client.get("/api/v1/status")
        except RuntimeFailure as exc:
            if explicit or not str(exc).startswith("cannot reach netevd"):
                raise
            return None
        # every link's: a VPN's run needs its device's values too
        documents = await client.get("/api/v1/interfaces")
    return status, documents


def _link_view(state: State, interface: str) -> LinkView:
    link = state.link_by_name(interface)
    if link is None:
        raise RuntimeFailure(f"no interface named {interface!r} in this network namespace")
    if problem := link_name_problem(link.name):
        raise RuntimeFailure(f"{interface!r}: {problem}; netevd runs no scripts for it")
    current = view(state, link.index)
    if current is None:
        raise RuntimeFailure(f"interface {interface!r} vanished")
    return current


def check_choice(tree: str, state_name: str) -> None:
    """A usage error unless *state_name* is one of *tree*'s directories or actions."""
    if tree not in TREES:
        raise UsageError(f"--tree {tree!r} is not a script tree; choose one of {', '.join(TREES)}")
    if tree == Tree.NETWORKD_DISPATCHER:
        choices = sorted(NETWORKD_DISPATCHER_STATES)
    elif tree == Tree.NM_DISPATCHER:
        choices = list(NM_DISPATCHER_ACTIONS)
    else:
        choices = [d.value for d in Directory]
    if state_name not in choices:
        what = {
            Tree.NETEVD: "a script directory",
            Tree.NETWORKD_DISPATCHER: "one of networkd-dispatcher's states",
            Tree.NM_DISPATCHER: "one of NetworkManager-dispatcher's actions",
        }[Tree(tree)]
        raise UsageError(
            f"--state {state_name!r} is not {what}; choose one of {', '.join(choices)}"
        )


def build_run(
    tree: str,
    current: LinkView,
    state_name: str,
    event: str | None,
    state: State,
    config: Config,
) -> RunScripts:
    """The run a real event would make in *tree* now (checked by :func:`check_choice`)."""
    ctx = Context(seq=0, ts=time.time())
    directory = directory_for(state_name)
    if directory in VPN_DIRECTORIES or state_name in VPN_ACTIONS:
        return _vpn_run(tree, current, VPN_ACTIONS.get(state_name, directory), ctx, state, config)
    if tree == Tree.NM_DISPATCHER:
        return _nm_dispatcher_run(current, state_name, ctx, state, config)
    assert directory is not None  # check_choice: every networkd-dispatcher state is one too
    kind = event or ("new" if directory is Directory.ROUTES else "link")
    manager = state.backend not in ("none", KERNEL) and directory not in KERNELS
    run = script_run(current, directory, state.backend if manager else KERNEL, ctx, kind, state)
    return dispatcher_run(run, state) if tree == Tree.NETWORKD_DISPATCHER else run


def _vpn_on(state: State, interface: str) -> int:
    """The number of the VPN whose own IP interface, or else whose device, is *interface*."""
    for number, vpn in sorted(state.vpns.items()):
        own = own_interface(state, vpn, Directory.VPN_UP)[1]
        if interface in (own, parent_iface(parent_props(state, vpn))):
            return number
    known = sorted(v.get("ConnectionId", "?") for v in state.vpns.values())
    raise RuntimeFailure(
        f"no NetworkManager VPN connection on {interface!r} in the daemon's picture"
        + (f" (it knows {', '.join(known)})" if known else " (it knows none)")
    )


def _vpn_run(
    tree: str, current: LinkView, directory: Directory | None, ctx: Context, state: State,
    config: Config,
) -> RunScripts:  # fmt: skip
    """``vpn-up``/``vpn-down``, made by the daemon's own reaction to the VPN's transition."""
    number = _vpn_on(state, current.link.name)
    up = directory is Directory.VPN_UP
    before = apply(state, VpnChanged(NETWORKMANAGER, number, (("VpnState", VPN_BEFORE[up]),)))
    after = apply(state, VpnChanged(NETWORKMANAGER, number, (("VpnState", VPN_AFTER[up]),)))
    on = replace(config, compat=replace(config.compat, nm_dispatcher=True), filters=())
    actions = react_vpns(before, after, [number], ctx, on)
    for action in actions:
        if isinstance(action, RunScripts) and action.tree == tree:
            return action
    raise RuntimeFailure(
        f"{current.link.name!r}: the VPN makes no {tree} run (its device unknown to the daemon, "
        "an interface name refused, or an interface not monitored)"
    )


def _nm_dispatcher_run(
    current: LinkView, action: str, ctx: Context, state: State, config: Config
) -> RunScripts:
    """nm-dispatcher's run of *action*, built by the same code as the daemon's compat runs."""
    if action in MANAGER_ACTIONS:
        on = replace(config, compat=replace(config.compat, nm_dispatcher=True), filters=())
        runs = nm_manager_changes(state, (MANAGER_ACTIONS[action],), ctx, on)
        if not runs:
            raise RuntimeFailure(
                f"{action} needs NetworkManager's values: no netevd with the NetworkManager "
                "backend answered"
            )
        run = runs[0]
        assert isinstance(run, RunScripts)
        return run
    # the netevd event behind a device action: its NETEVD_* are passed on, as the daemon does
    netevd_run = script_run(current, Directory.ACTIVATED, NETWORKMANAGER, ctx, "link", state)
    link = current.link
    found = device_run(state, link.index, link.name, action, netevd_run.env_dict(), ctx)
    if found is None:
        raise RuntimeFailure(f"{link.name!r}: NetworkManager's IP interface name is not safe")
    return found


async def run_test(
    script: str,
    interface: str,
    state_name: str,
    event: str | None,
    config: Config,
    env: Mapping[str, str],
    tree: str = Tree.NETEVD.value,
    endpoint: str | None = None,
) -> int:
    check_choice(tree, state_name)
    path = Path(script)
    if not await asyncio.to_thread(_executable, path):
        raise UsageError(f"{script}: not an executable file")
    state = await current_state()
    current = _link_view(state, interface)
    daemon = await ask_daemon(endpoint, env)
    if daemon is not None:
        state = with_daemon(state, *daemon)
        current = _link_view(state, interface)
    action = build_run(tree, current, state_name, event, state, config)
    full_env = script_environment(action.env_dict(), env)
    _show(action, full_env, daemon is not None, path)
    result = await run_script(path, full_env, config.scripts.timeout, 65536, args=action.args)
    print(result.output, end="" if result.output.endswith("\n") or not result.output else "\n")
    status = "timed out" if result.timed_out else (result.error or f"exit code {result.exit_code}")
    print(f"# {status} after {result.duration:.3f}s")
    return 0 if result.exit_code == 0 else 1


def _show(action: RunScripts, full_env: Mapping[str, str], live: bool, path: Path) -> None:
    if not live:
        print("# no netevd answered: the kernel's picture only (no network manager's values)")
    print("# environment")
    for name in sorted(full_env):
        print(f"{name}={full_env[name]}")
    for name, reason in action.dropped:
        print(f"# dropped {name}: {reason}")
    shown = " ".join(repr(a) for a in action.args)
    print(f"# running {path}" + (f" {shown}" if shown else ""))
    sys.stdout.flush()
