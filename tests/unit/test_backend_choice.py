import logging

from netevd.sources.backend import resolve_backend


async def test_explicit_backends_without_a_source_run_kernel_only(caplog):
    caplog.set_level(logging.WARNING)
    assert await resolve_backend("systemd-networkd", {}) == "systemd-networkd"
    assert await resolve_backend("none", {}) == "none"
    assert await resolve_backend("NetworkManager", {}) == "NetworkManager"
    assert await resolve_backend("dhclient", {}) == "none"
    assert [r.getMessage().split()[1] for r in caplog.records] == ["backend=dhclient"]


async def test_auto_without_a_bus_is_kernel_only(tmp_path):
    missing = {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}
    assert await resolve_backend("auto", missing) == "none"
