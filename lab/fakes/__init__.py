"""Fake D-Bus services for what the real ones cannot be made to do on demand."""

from lab.fakes.network1 import FakeLink, FakeManager, FakeNetwork1

__all__ = ["FakeLink", "FakeManager", "FakeNetwork1"]
