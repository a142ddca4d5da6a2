"""compat.* and scripts.stdin_json: parsed, refused with their key path, warned about; and a
compat run is not counted as a state change of its own."""

from __future__ import annotations

from dataclasses import replace

import pytest

from netevd.config import ConfigError, parse_config
from netevd.core.actions import RunScripts
from netevd.core.config import CompatConfig
from netevd.engine.accounting import Accounting
from netevd.telemetry.eventlog import EventLog
from netevd.telemetry.metrics import Metrics


def test_off_by_default_with_the_tools_own_directories():
    config = parse_config({}, env={}).config
    assert config.compat == CompatConfig(
        networkd_dispatcher=False,
        networkd_dispatcher_dirs=("/etc/networkd-dispatcher", "/usr/lib/networkd-dispatcher"),
        nm_dispatcher=False,
        nm_dispatcher_dirs=(
            "/etc/NetworkManager/dispatcher.d",
            "/usr/lib/NetworkManager/dispatcher.d",
        ),
    )
    assert config.scripts.stdin_json is False


def test_the_keys_are_read():
    data = {
        "system": {"backend": "NetworkManager"},
        "scripts": {"stdin_json": True},
        "compat": {"nm_dispatcher": True, "nm_dispatcher_dirs": ["/srv/dispatcher.d"]},
    }
    loaded = parse_config(data, env={})
    assert loaded.config.compat.nm_dispatcher
    assert loaded.config.compat.nm_dispatcher_dirs == ("/srv/dispatcher.d",)
    assert loaded.config.scripts.stdin_json
    assert loaded.warnings == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"compat": {"networkd_dispatcher": "yes"}},
            "compat.networkd_dispatcher: 'yes' must be true or false",
        ),
        (
            {"compat": {"networkd_dispatcher_dirs": ["etc/networkd-dispatcher"]}},
            "compat.networkd_dispatcher_dirs[0]: 'etc/networkd-dispatcher' is not an absolute path",
        ),
        (
            {"compat": {"nm_dispatcher_dirs": "/etc/NetworkManager/dispatcher.d"}},
            "compat.nm_dispatcher_dirs: must be a list of absolute paths, got "
            "'/etc/NetworkManager/dispatcher.d'",
        ),
        ({"scripts": {"stdin_json": 1}}, "scripts.stdin_json: 1 must be true or false"),
        ({"compat": ["nm_dispatcher"]}, "compat: must be a mapping, got a list"),
    ],
)
def test_a_bad_value_names_its_key_the_value_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={})
    assert caught.value.errors == [message]


def test_an_unknown_compat_key_is_named_with_a_suggestion():
    loaded = parse_config({"compat": {"nm_dispatcher_dir": ["/x"]}}, env={})
    assert loaded.warnings == (
        "unknown key compat.nm_dispatcher_dir (ignored); did you mean compat.nm_dispatcher_dirs?",
    )


def test_nm_dispatcher_with_another_backend_is_a_warning():
    data = {"system": {"backend": "systemd-networkd"}, "compat": {"nm_dispatcher": True}}
    assert parse_config(data, env={}).warnings == (
        "compat.nm_dispatcher is on but system.backend is systemd-networkd: "
        "NetworkManager-dispatcher's scripts run only with the NetworkManager backend",
    )
    data["system"]["backend"] = "auto"  # NetworkManager may be what auto finds
    assert parse_config(data, env={}).warnings == ()


def test_a_compat_run_is_no_state_change_of_its_own():
    metrics = Metrics()
    accounting = Accounting(metrics, EventLog())
    own = RunScripts("routable", 2, "eth0", (), 1)
    compat = replace(own, tree="networkd-dispatcher")
    assert accounting.local((own, compat)) == [own, compat]  # both still go to the executor
    value = metrics.registry.get_sample_value(
        "netevd_interface_state_changes_total", {"state": "routable"}
    )
    assert value == 1.0
