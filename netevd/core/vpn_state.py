"""NetworkManager's VPN connections in the state (pure): what each last reported, by number.

``State.vpns`` maps the number N of ``/org/freedesktop/NetworkManager/ActiveConnection/N`` to
the VPN's properties (strings, as netevd.sources.networkmanager.vpns names them), merged like a
device's: a property an event does not carry keeps its last value, so ``vpn-down`` still knows
the parent device and the connection after NetworkManager has dropped them from the object.
"""

from __future__ import annotations

from collections.abc import Mapping

from immutables import Map

from netevd.core.events import Properties, VpnChanged, VpnRemoved

Vpns = Mapping[int, Mapping[str, str]]


def apply_vpn(vpns: Vpns, event: VpnChanged | VpnRemoved) -> Map[int, Mapping[str, str]]:
    """*vpns* after *event*."""
    current = vpns if isinstance(vpns, Map) else Map(vpns)
    if isinstance(event, VpnRemoved):
        return current.delete(event.number) if event.number in current else current
    merged = {**current.get(event.number, {}), **dict(event.properties)}
    return current.set(event.number, merged)


def expand_vpns(
    vpns: Vpns, source: str, entries: tuple[tuple[int, Properties], ...]
) -> list[VpnChanged | VpnRemoved]:
    """The events that take *vpns* to a snapshot's *entries*. NetworkManager numbers its
    objects anew when it restarts: an entry whose connection is not the one known under its
    number is another VPN (the old one is removed first)."""
    events: list[VpnChanged | VpnRemoved] = []
    seen = set()
    for number, properties in entries:
        seen.add(number)
        old = vpns.get(number, {})
        uuid = dict(properties).get("ConnectionUuid")
        if old and uuid is not None and old.get("ConnectionUuid") not in (None, uuid):
            events.append(VpnRemoved(source, number))
            old = {}
        changed = tuple((k, v) for k, v in properties if old.get(k) != v)
        if changed or not old:
            events.append(VpnChanged(source, number, changed))
    events += [VpnRemoved(source, number) for number in vpns if number not in seen]
    return events
