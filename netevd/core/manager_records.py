"""What the event log keeps of a network manager's report (pure): one record per event."""

from __future__ import annotations

from netevd.core.events import (
    Context,
    ManagerChanged,
    ManagerEvent,
    ManagerLinkRemoved,
    VpnChanged,
    VpnRemoved,
)
from netevd.core.kinds import EventKind
from netevd.core.nm_vpn import number_of
from netevd.core.records import Record
from netevd.core.state import State


def manager_record(
    ctx: Context, event: ManagerEvent, before: State, after: State, fired: tuple[str, ...]
) -> Record:
    """``manager-link`` (a link's report), ``manager`` (the manager's own) or ``vpn`` (a VPN
    connection's, with its number and the link its runs are about)."""
    props = dict(event.properties) if not isinstance(event, ManagerLinkRemoved | VpnRemoved) else {}
    detail: dict[str, object] = {"properties": props}
    if isinstance(event, VpnChanged | VpnRemoved):
        kind = EventKind.VPN
        vpn = after.vpns.get(event.number) or before.vpns.get(event.number, {})
        index = number_of(vpn.get("VpnIpIndex")) or number_of(vpn.get("DeviceIndex")) or None
        detail = {"vpn": event.number, **detail}
    elif isinstance(event, ManagerChanged):
        kind, index = EventKind.MANAGER, None
    else:
        kind, index = EventKind.MANAGER_LINK, event.index
    link = after.links.get(index) if index else None
    name = link.name if link else None
    return Record(ctx.seq, ctx.ts, kind, event.source, index, name, detail, fired)
