"""Declarative network-namespace labs for netevd's tests, demo and selftest."""

from lab.daemons.bus import PrivateBus
from lab.daemons.dhcp import DhclientClient, DnsmasqServer
from lab.daemons.networkd import NetworkdNode
from lab.daemons.networkmanager import NetworkManagerNode
from lab.errors import LabError, TopologyError
from lab.net.build import Lab
from lab.net.topologies import host_peer
from lab.net.topology import ROOT, Topology
from lab.process import ManagedProcess, ProcessExited
from lab.wait import WaitTimeout, wait_until

__all__ = [
    "ROOT",
    "DhclientClient",
    "DnsmasqServer",
    "Lab",
    "LabError",
    "ManagedProcess",
    "NetworkManagerNode",
    "NetworkdNode",
    "PrivateBus",
    "ProcessExited",
    "Topology",
    "TopologyError",
    "WaitTimeout",
    "host_peer",
    "wait_until",
]
