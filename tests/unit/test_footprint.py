"""What the real daemon has imported when it is READY, for the default configuration (kernel
backend, API and metrics on) and the minimal one (API and metrics off): each library comes in
only with the part of the configuration that uses it, so a stray import fails here rather than
costing every host tens of milliseconds and megabytes at every start (docs/benchmarks.md)."""

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DRIVER = Path(__file__).with_name("footprint_driver.py")
# Loaded only by policy routing's writes, a D-Bus backend or name push, lease watching.
NEVER_WITHOUT_THEIR_CONFIG = {"pyroute2", "dbus_fast", "watchfiles"}
API_STACK = {"aiohttp", "yarl", "multidict", "netevd.api.app", "prometheus_client"}
MANAGER_SOURCES = {
    "netevd.sources.networkd.source",
    "netevd.sources.networkmanager.source",
    "netevd.sources.dhclient.source",
    "netevd.executors.names",
    "netevd.executors.route_writes",
    "netevd.executors.neighbours",
    "netevd.executors.neigh_writes",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def modules_at_ready(tmp_path: Path, **sections: dict[str, Any]) -> set[str]:
    (tmp_path / "scripts").mkdir()
    config: dict[str, Any] = {
        "system": {
            "backend": "none",
            "script_dirs": [str(tmp_path / "scripts")],
            "user": "",
            "state_dir": str(tmp_path / "state"),
        },
        **sections,
    }
    path = tmp_path / "netevd.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def loaded(modules: set[str], names: set[str]) -> set[str]:
    """The *names* (packages or modules) of which something is in *modules*."""
    return {n for n in names if any(m == n or m.startswith(n + ".") for m in modules)}


@pytest.fixture
def default_modules(tmp_path: Path) -> set[str]:
    return modules_at_ready(tmp_path, api={"port": free_port()})


def test_default_config_loads_the_api_and_nothing_it_does_not_use(default_modules):
    assert loaded(default_modules, API_STACK) == API_STACK
    assert loaded(default_modules, NEVER_WITHOUT_THEIR_CONFIG) == set()
    assert loaded(default_modules, MANAGER_SOURCES) == set()


def test_api_without_metrics_loads_no_prometheus_client(tmp_path):
    modules = modules_at_ready(tmp_path, api={"port": free_port()}, metrics={"enabled": False})
    assert "aiohttp" in modules
    assert loaded(modules, {"prometheus_client"} | NEVER_WITHOUT_THEIR_CONFIG) == set()


def test_minimal_config_loads_no_api_stack(tmp_path):
    modules = modules_at_ready(tmp_path, api={"enabled": False}, metrics={"enabled": False})
    assert "netevd.sources.netlink" in modules
    assert loaded(modules, API_STACK | NEVER_WITHOUT_THEIR_CONFIG | MANAGER_SOURCES) == set()


# What the read-only commands, run at every boot and by every monitoring script, must not load.
CLI_NEVER = {
    "aiohttp",
    "pyroute2",
    "dbus_fast",
    "watchfiles",
    "yaml",
    "prometheus_client",
    "netevd.app",
    "netevd.config",
    "netevd.api",
    "netevd.engine",
    "netevd.sources",
    "netevd.executors",
}
NOBODY_THERE = f"http://127.0.0.1:{free_port()}"
COMMAND = (
    "import json, sys; from netevd.cli import main; code = main(sys.argv[1:]); "
    "print(json.dumps([code, sorted(sys.modules)]))"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--endpoint", NOBODY_THERE],
        ["list", "interfaces", "--endpoint", NOBODY_THERE],
        ["events", "-n", "5", "--endpoint", NOBODY_THERE],
        ["wait", "--any", "--timeout", "1", "--endpoint", NOBODY_THERE],
        # No endpoint given: the daemon at the default one, or the kernel read directly.
        ["wait", "--any", "--state", "degraded", "--timeout", "1"],
    ],
    ids=lambda argv: " ".join(a for a in argv if not a.startswith("http")),
)
def test_read_only_commands_load_no_daemon_code(argv):
    done = subprocess.run(
        [sys.executable, "-c", COMMAND, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    code, names = json.loads(done.stdout.splitlines()[-1])
    modules = set(names)
    assert code in (0, 1), done.stderr  # done, or no daemon / timed out; never a usage error
    assert loaded(modules, CLI_NEVER) == set(), done.stderr
    if "--endpoint" in argv:  # only the daemon asked: not even the core's events and state
        assert {"netevd.core.events", "netevd.core.state"} & modules == set()
