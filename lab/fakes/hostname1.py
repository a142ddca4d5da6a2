"""A fake ``org.freedesktop.hostname1`` that records SetHostname and fails it on demand. The
lab runs the real systemd-hostnamed (lab.hostnamed) wherever it can; this fake is for the
answers the real one will not give when asked (a chosen D-Bus error). Its members carry
hostnamed v252's names and signatures; tests compare them with the real introspection."""

from dbus_fast import PropertyAccess
from dbus_fast.annotations import DBusBool, DBusStr
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from lab.fakes.recording import FakeService, Recorder

BUS_NAME = "org.freedesktop.hostname1"
PATH = "/org/freedesktop/hostname1"
INTERFACE = "org.freedesktop.hostname1"


class FakeHostnameInterface(ServiceInterface):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__(INTERFACE)
        self.recorder = recorder
        self.hostname = "localhost"

    @dbus_method(name="SetHostname")
    def set_hostname(self, hostname: DBusStr, interactive: DBusBool) -> None:
        self.recorder.record("SetHostname", hostname, interactive)
        self.hostname = hostname
        self.emit_properties_changed({"Hostname": hostname})

    @dbus_property(access=PropertyAccess.READ, name="Hostname")
    def hostname_property(self) -> DBusStr:
        return self.hostname


class FakeHostname1(FakeService, Recorder):
    """``async with FakeHostname1(address) as fake:``; ``fake.made("SetHostname")``."""

    def __init__(self, address: str) -> None:
        Recorder.__init__(self)
        self.interface = FakeHostnameInterface(self)
        FakeService.__init__(self, address, BUS_NAME, {PATH: self.interface})
