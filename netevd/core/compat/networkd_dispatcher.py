"""networkd-dispatcher's scripts run by netevd (``compat.networkd_dispatcher``), pure.

Which of netevd's runs networkd-dispatcher 2.2.3 would also have made, and the environment it
gives its scripts (its ``run_hooks_for_state``, docs/migration.md cites each line):

- the directories: networkd's AdministrativeState and OperationalState values, its ADMIN_STATES
  and OPER_STATES lists (16 names, all of them netevd directories too). With the
  systemd-networkd backend they come from networkd's own reports, ``carrier`` and
  ``no-carrier`` included (netevd's own ``carrier.d`` comes from the kernel; networkd's
  ``carrier`` is its OperationalState, which networkd-dispatcher follows). With any other
  backend the kernel's states stand in (``off``, ``no-carrier``, ``carrier`` from the link's
  flags, ``degraded`` and ``routable`` in ``none`` mode);
- ``IFACE``, ``STATE``, ``AdministrativeState``, ``OperationalState``;
- ``ADDR`` (the first address ``networkctl status`` lists), ``IP_ADDRS`` and ``IP6_ADDRS``
  (every address of the link without its prefix, in networkctl's order: IPv4 first, lowest
  scope first, then by address; ``127.*`` and ``fe80:*`` left out, exactly as its
  ``parse_address_strings`` does);
- ``ESSID``: empty (netevd does not ask ``iw``);
- ``json``: networkd-dispatcher always sets it; here the keys it has whose values netevd knows
  (``InterfaceName``, ``Type``, ``OperationalState``, ``AdministrativeState``, ``State``,
  ``Address``, ``Gateway``, ``Hardware Address``).

Unlike networkd-dispatcher, nothing of the daemon's own environment is passed, and every value
is validated like any other (an empty value is passed empty, as networkd-dispatcher does).
"""

from __future__ import annotations

import ipaddress
import json

from netevd.core.actions import RunScripts
from netevd.core.environment import validated
from netevd.core.events import KERNEL, NETWORKD
from netevd.core.model import AF_INET, AF_INET6, IFF_LOOPBACK, Addr
from netevd.core.runs import json_object
from netevd.core.state import State
from netevd.core.trees import Tree
from netevd.core.views import gateway, kernel_state

# networkd-dispatcher 2.2.3's ADMIN_STATES + OPER_STATES: the only directories it runs.
STATES = frozenset(
    {
        "configured",
        "configuring",
        "failed",
        "pending",
        "unmanaged",
        "linger",
        "initialized",
        "carrier",
        "degraded",
        "degraded-carrier",
        "dormant",
        "enslaved",
        "missing",
        "no-carrier",
        "off",
        "routable",
    }
)
# Always set by networkd-dispatcher, empty or not.
ALWAYS = ("IFACE", "STATE", "AdministrativeState", "OperationalState", "ESSID", "ADDR")
ALWAYS_TOO = ("IP_ADDRS", "IP6_ADDRS", "json")
PASSED_ON = ("NETEVD_SEQ", "NETEVD_REPLAY", "NETEVD_JSON")


def networkd_dispatcher_runs(run: RunScripts, state: State) -> list[RunScripts]:
    """The networkd-dispatcher run that goes with netevd's *run*: none or one."""
    if run.tree != Tree.NETEVD or not run.link_index or run.directory not in STATES:
        return []
    backend = run.env_dict().get("BACKEND")
    wanted = NETWORKD if state.backend == NETWORKD else KERNEL
    if backend != wanted:
        return []  # with networkd, its own report fires carrier.d, not the kernel's
    return [dispatcher_run(run, state)]


def dispatcher_run(run: RunScripts, state: State) -> RunScripts:
    """networkd-dispatcher's run of *run*'s directory for *run*'s link."""
    values = {**dispatcher_env(run.link_index, run.link_name, run.directory, state)}
    source = run.env_dict()
    values.update((name, source[name]) for name in PASSED_ON if name in source)
    env, dropped = validated(values, (*ALWAYS, *ALWAYS_TOO))
    return RunScripts(
        directory=run.directory,
        link_index=run.link_index,
        link_name=run.link_name,
        env=env,
        seq=run.seq,
        replay=run.replay,
        dropped=dropped,
        event_ts=run.event_ts,
        tree=Tree.NETWORKD_DISPATCHER,
    )


def dispatcher_env(index: int, name: str, directory: str, state: State) -> dict[str, str]:
    admin, oper = link_states(state, index)
    listed = networkctl_addresses(state, index)
    v4 = [a for a in listed if ":" not in a and "." in a and not a.startswith("127.")]
    v6 = [a for a in listed if ":" in a and not a.startswith("fe80:")]
    return {
        "IFACE": name,
        "STATE": directory,
        "AdministrativeState": admin,
        "OperationalState": oper,
        "ESSID": "",
        "ADDR": listed[0] if listed else "",
        "IP_ADDRS": " ".join(v4),
        "IP6_ADDRS": " ".join(v6),
        "json": json.dumps(_document(state, index, name, admin, oper, listed), sort_keys=True),
    }


def link_states(state: State, index: int) -> tuple[str, str]:
    """(AdministrativeState, OperationalState): networkd's own, or the kernel-derived
    operational state and no administrative one when networkd is not the backend."""
    if state.backend == NETWORKD:
        props = state.managed_props(NETWORKD, index)
        return props.get("AdministrativeState", ""), props.get("OperationalState", "")
    return "", kernel_state(state, index) if index in state.links else ""


def networkctl_addresses(state: State, index: int) -> list[str]:
    """Every address of the link, bare, in the order ``networkctl status`` lists them
    (systemd's local_addresses: IPv4 before IPv6, lowest scope first, then the address)."""
    return [a.address for a in sorted(state.link_addrs(index), key=_networkctl_order)]


def _networkctl_order(addr: Addr) -> tuple[int, int, int]:
    return (0 if addr.family == AF_INET else 1, addr.scope, int(ipaddress.ip_address(addr.address)))


def _document(
    state: State, index: int, name: str, admin: str, oper: str, listed: list[str]
) -> dict[str, object]:
    doc: dict[str, object] = {
        "InterfaceName": name,
        "Type": _link_type(state, index),
        "OperationalState": oper,
        "AdministrativeState": admin,
        "State": f"{oper} ({admin})",  # networkd-dispatcher's own rendering
    }
    if listed:
        doc["Address"] = listed
    gateways = [g for g in (gateway(state, index, AF_INET), gateway(state, index, AF_INET6)) if g]
    if gateways:
        doc["Gateway"] = gateways
    link = state.links.get(index)
    if link is not None and link.mac:
        doc["Hardware Address"] = [link.mac]
    return doc


def _link_type(state: State, index: int) -> str:
    """networkctl's TYPE: networkd's own word when it described the link, else the kernel's."""
    described = json_object(state.describe.get((NETWORKD, index), ""))
    if isinstance(described.get("Type"), str):
        return str(described["Type"])
    link = state.links.get(index)
    if link is None:
        return ""
    if link.flags & IFF_LOOPBACK:
        return "loopback"
    if link.kind == "bridge":
        return "bridge"
    return "ether" if len(link.mac) == 17 else "none"
