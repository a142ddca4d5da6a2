"""The names of netevd's sources (pure): a module of their own, so that what needs only a name,
as ``netevd wait`` does, loads none of the events, actions and configuration around them.
netevd.core.events re-exports them."""

from __future__ import annotations

# the sources' names (an event's and a record's ``source``, a run's BACKEND)
KERNEL = "kernel"
NETWORKD = "systemd-networkd"
NETWORKMANAGER = "NetworkManager"
DHCLIENT = "dhclient"
# the kernel source's name as a running source (SourceStatus, /health, READY's wait)
NETLINK = "netlink"
# the managers' names on the system bus (their sources follow them; ``auto`` probes them)
BUS_NAMES = {NETWORKD: "org.freedesktop.network1", NETWORKMANAGER: "org.freedesktop.NetworkManager"}
