"""Fake D-Bus services for what the real ones cannot be made to do on demand."""

from lab.fakes.network1 import FakeLink, FakeManager, FakeNetwork1
from lab.fakes.networkmanager import FakeNetworkManager

__all__ = ["FakeLink", "FakeManager", "FakeNetwork1", "FakeNetworkManager"]
