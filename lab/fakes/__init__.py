"""Fake D-Bus services for what the real ones cannot be made to do on demand."""

from lab.fakes.hostname1 import FakeHostname1
from lab.fakes.network1 import FakeLink, FakeManager, FakeNetwork1
from lab.fakes.networkmanager import FakeNetworkManager
from lab.fakes.recording import Call
from lab.fakes.resolve1 import FakeResolve1

__all__ = [
    "Call",
    "FakeHostname1",
    "FakeLink",
    "FakeManager",
    "FakeNetwork1",
    "FakeNetworkManager",
    "FakeResolve1",
]
