"""Reactions to dhclient's leases (pure): routable.d with the lease, and what resolved and
hostnamed are told.

The source emits a lease only when it changed in what scripts care about (address, router,
DNS, domain, search, host name, lease time), or as the start-up replay; so routable.d runs once
per real change, never per rewrite of the file. A lease names its link by name: a name the
kernel does not know (yet) runs nothing and is said once in the log.
"""

from __future__ import annotations

from netevd.core.actions import Action, Note, PushHostname, PushLinkDns, RevertLinkDns
from netevd.core.config import Config
from netevd.core.directories import Directory
from netevd.core.events import DHCLIENT, Context, LeaseChanged, LeaseLost, LinkRemoved
from netevd.core.filters import monitored
from netevd.core.kinds import EventKind
from netevd.core.model import Lease
from netevd.core.runs import apply_filters, policy_env, script_run
from netevd.core.state import State
from netevd.core.views import view


def dhcp_env(lease: Lease) -> dict[str, str]:
    """The DHCP_* variables of a lease ("" for what it lacks: dropped from the environment)."""
    return {
        "DHCP_ADDRESS": lease.address or "",
        "DHCP_SUBNET_MASK": lease.subnet_mask or "",
        "DHCP_PREFIXLEN": "" if lease.prefixlen is None else str(lease.prefixlen),
        "DHCP_GATEWAY": lease.routers[0] if lease.routers else "",
        "DHCP_DNS": " ".join(lease.dns),
        "DHCP_DOMAIN": lease.domain or "",
        "DHCP_SEARCH": " ".join(lease.search),
        "DHCP_HOSTNAME": lease.host_name or "",
        "DHCP_LEASE": "" if lease.lease_time is None else str(lease.lease_time),
        "DHCP_SERVER": lease.server or "",
        "DHCP_EXPIRE": "" if lease.expire is None else str(lease.expire),
    }


def react_lease(
    before: State, after: State, event: LeaseChanged | LeaseLost, ctx: Context, config: Config
) -> list[Action]:
    if after.backend != DHCLIENT:
        return []
    link = after.link_by_name(event.interface)
    if link is None:
        return [Note(f"dhcp.lease link={event.interface} unknown to the kernel; nothing run")]
    if not monitored(link.name, config.monitoring):
        return []
    actions = _name_services(after, link.index, link.name, config)
    quiet = ctx.replay and not config.scripts.run_startup_triggers
    if isinstance(event, LeaseChanged) and not quiet:
        actions = _routable(after, link.index, event.lease, ctx, config) + actions
    return actions


def _routable(state: State, index: int, lease: Lease, ctx: Context, config: Config) -> list[Action]:
    current = view(state, index)
    if current is None:
        return []
    extra = {**dhcp_env(lease), **policy_env(state, current.link.name, config)}
    if not current.gateway and lease.routers:
        extra["GATEWAY"] = lease.routers[0]  # the kernel shows no default route for it yet
    values = dhcp_env(lease)
    document = {"dhcp": {k.removeprefix("DHCP_").lower(): v for k, v in values.items() if v}}
    kind = EventKind.LEASE.value
    run = script_run(
        current, Directory.ROUTABLE, DHCLIENT, ctx, kind, state, extra=extra, document=document
    )
    return apply_filters([run], config)


def _name_services(state: State, index: int, name: str, config: Config) -> list[Action]:
    """What resolved and hostnamed are told, from every current lease of the link."""
    wanted = config.backends.dhclient
    leases = [state.leases[key] for key in ((name, 4), (name, 6)) if key in state.leases]
    actions: list[Action] = []
    if wanted.use_dns or wanted.use_domain:
        if not leases:
            actions.append(RevertLinkDns(index, name))
        else:
            servers = tuple(dict.fromkeys(s for lease in leases for s in lease.dns))
            domains = tuple(dict.fromkeys(d for lease in leases for d in _domains(lease)))
            actions.append(
                PushLinkDns(
                    index,
                    name,
                    servers if wanted.use_dns else None,
                    domains if wanted.use_domain else None,
                )
            )
    host = next((lease.host_name for lease in leases if lease.host_name), None)
    if wanted.use_hostname and host:
        actions.append(PushHostname(host))
    return actions


def _domains(lease: Lease) -> tuple[str, ...]:
    """Search domains: option 119 when given, else the domain-name option's names."""
    return lease.search or tuple((lease.domain or "").split())


def react_link_gone(before: State, event: LinkRemoved, config: Config) -> list[Action]:
    """A link that goes takes its pushed DNS with it (resolved forgets it by itself)."""
    link = before.links.get(event.index)
    if link is None or before.backend != DHCLIENT:
        return []
    dhcp = config.backends.dhclient
    if not (dhcp.use_dns or dhcp.use_domain):
        return []
    has_lease = any((link.name, family) in before.leases for family in (4, 6))
    return [RevertLinkDns(event.index, link.name, gone=True)] if has_lease else []
