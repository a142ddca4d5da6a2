"""A fake ``org.freedesktop.resolve1`` for what the real systemd-resolved cannot be made to do
on demand (fail a call with a chosen error). Its Manager methods carry resolved v252's names
and signatures; tests compare them with the real service's introspection."""

from typing import Annotated

from dbus_fast.annotations import DBusInt32, DBusSignature
from dbus_fast.service import ServiceInterface, dbus_method

from lab.fakes.recording import FakeService, Recorder

BUS_NAME = "org.freedesktop.resolve1"
PATH = "/org/freedesktop/resolve1"
MANAGER_INTERFACE = "org.freedesktop.resolve1.Manager"

Addresses = Annotated[list[tuple[int, bytes]], DBusSignature("a(iay)")]
Domains = Annotated[list[tuple[str, bool]], DBusSignature("a(sb)")]


class FakeResolveManager(ServiceInterface):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__(MANAGER_INTERFACE)
        self.recorder = recorder

    @dbus_method(name="SetLinkDNS")
    def set_link_dns(self, ifindex: DBusInt32, addresses: Addresses) -> None:
        self.recorder.record("SetLinkDNS", ifindex, [(f, bytes(a)) for f, a in addresses])

    @dbus_method(name="SetLinkDomains")
    def set_link_domains(self, ifindex: DBusInt32, domains: Domains) -> None:
        self.recorder.record("SetLinkDomains", ifindex, [(d, r) for d, r in domains])

    @dbus_method(name="RevertLink")
    def revert_link(self, ifindex: DBusInt32) -> None:
        self.recorder.record("RevertLink", ifindex)


class FakeResolve1(FakeService, Recorder):
    """``async with FakeResolve1(address) as fake:``; ``fake.made("SetLinkDNS")``."""

    def __init__(self, address: str) -> None:
        Recorder.__init__(self)
        self.manager = FakeResolveManager(self)
        FakeService.__init__(self, address, BUS_NAME, {PATH: self.manager})
