import logging

from netevd.sources.backend import resolve_backend


async def test_explicit_backends_are_taken_as_configured(caplog):
    caplog.set_level(logging.WARNING)
    for backend in ("systemd-networkd", "NetworkManager", "dhclient", "none"):
        assert await resolve_backend(backend, {}) == backend
    assert caplog.records == []  # every backend has its source now


async def test_auto_without_a_bus_is_kernel_only(tmp_path):
    missing = {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}
    assert await resolve_backend("auto", missing) == "none"
