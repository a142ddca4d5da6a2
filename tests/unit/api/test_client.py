"""The command-line client against the API on port 0, and against nothing at all."""

import asyncio
import json
import re
import socket
from dataclasses import replace

import pytest

from netevd.cli import build_parser, main
from netevd.client import run_client
from netevd.client.render import clean
from netevd.core.events import AddressAdded, NeighbourChanged
from netevd.core.model import AF_INET, NUD_FAILED, NUD_REACHABLE, RTPROT_NETEVD, Addr, Neigh
from netevd.errors import RuntimeFailure


async def cli(api, capsys, *argv, env=None):
    """Run ``netevd ARGV`` in a thread (it has its own event loop): (code, stdout, stderr)."""
    full = [*argv, "--endpoint", api.base] if api is not None else list(argv)
    code = await asyncio.to_thread(main, full, env or {})
    out, err = capsys.readouterr()
    return code, out, err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_status(make_api, capsys):
    api = await make_api()
    code, out, _ = await cli(api, capsys, "status")
    assert code == 0
    assert "backend:     none" in out
    assert "interfaces:  3" in out
    assert "state:       ready" in out
    code, out, _ = await cli(api, capsys, "status", "--format", "json")
    assert code == 0
    assert json.loads(out)["counts"]["routes"] == 6


async def test_status_and_show_say_whether_the_gateway_answers(make_api, capsys):
    api = await make_api()
    _, out, _ = await cli(api, capsys, "status")
    assert "gateways:    -\n" in out  # gateway liveness off: nothing known
    _, out, _ = await cli(api, capsys, "show", "interface", "eth0")
    assert "  reachable: -\n" in out
    failed = Neigh(3, AF_INET, "10.0.0.254", NUD_FAILED, "", RTPROT_NETEVD)
    api.engine.handle(NeighbourChanged(failed))
    _, out, _ = await cli(api, capsys, "status")
    assert "gateways:    eth0 UNREACHABLE\n" in out
    _, out, _ = await cli(api, capsys, "show", "interface", "eth0")
    assert "  reachable: NO\n" in out
    api.engine.handle(NeighbourChanged(replace(failed, state=NUD_REACHABLE, lladdr="02:00::1")))
    _, out, _ = await cli(api, capsys, "status", "--format", "json")
    assert json.loads(out)["gateways"] == {"eth0": True}


async def test_lists(make_api, capsys):
    api = await make_api()
    code, out, _ = await cli(api, capsys, "list", "interfaces")
    assert code == 0
    header, _lo, eth0, _hostile = out.splitlines()
    assert header.split() == [
        "INDEX",
        "NAME",
        "STATE",
        "CARRIER",
        "OPER",
        "MTU",
        "MAC",
        "ADDRESSES",
        "GATEWAY",
    ]
    assert eth0.split() == [
        "3",
        "eth0",
        "routable",
        "yes",
        "UP",
        "1500",
        "02:00:00:00:00:03",
        "10.0.0.1/24",
        "2001:db8::1/64",
        "10.0.0.254",
        "2001:db8::fe",
    ]
    code, out, _ = await cli(api, capsys, "list", "routes")
    assert "203    inet    0.0.0.0/0      10.0.0.254" in out
    code, out, _ = await cli(api, capsys, "list", "rules", "--format", "json")
    assert [r["priority"] for r in json.loads(out)][:2] == [0, 1000]
    code, out, _ = await cli(api, capsys, "list", "scripts")
    assert code == 0
    assert out.endswith("no scripts found\n")


async def test_show_interface(make_api, capsys):
    api = await make_api()
    api.engine.handle(AddressAdded(Addr(3, AF_INET, "10.0.0.9", 24)))
    code, out, _ = await cli(api, capsys, "show", "interface", "eth0")
    assert code == 0
    assert out.startswith("eth0\n  index:     3\n")
    assert "  gateway:   10.0.0.254\n" in out
    assert "address-added  eth0  10.0.0.9/24" in out
    code, out, err = await cli(api, capsys, "show", "interface", "nope")
    assert code == 1
    assert err == "netevd: no interface named 'nope'\n"


async def test_events(make_api, capsys):
    api = await make_api()
    for n in range(3):
        api.engine.handle(AddressAdded(Addr(3, AF_INET, f"10.0.0.{n + 20}", 24)))
    api.finished(5, code=3)
    code, out, _ = await cli(api, capsys, "events", "-n", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("#4  ")
    assert lines[1].startswith("#5  ")
    assert lines[2] == "  routable.d/50-x: exit 3 (10 ms)"
    code, out, _ = await cli(api, capsys, "events", "--type", "source", "--format", "json")
    assert [e["type"] for e in json.loads(out)] == ["source"]
    code, _, err = await cli(api, capsys, "events", "--type", "nonsense")
    assert code == 2
    assert "argument -t/--type: invalid choice: 'nonsense' (choose from 'link', " in err


async def test_events_follow(make_api, wait_until):
    api = await make_api()
    args = build_parser().parse_args(
        ["events", "-f", "-n", "1", "--format", "json", "--endpoint", api.base]
    )
    lines: list[str] = []
    follower = asyncio.create_task(asyncio.to_thread(run_client, args, {}, lines.append))
    subscribers = api.engine.events._subscribers
    await wait_until(lambda: lines and subscribers, 5, message="the recent event, then the stream")
    api.engine.handle(AddressAdded(Addr(3, AF_INET, "10.0.0.50", 24)))
    await wait_until(lambda: len(lines) == 2, 5, message="the live event")
    await api.server.stop()  # the stream ends: a runtime failure for a follower
    with pytest.raises(RuntimeFailure) as info:
        await asyncio.wait_for(follower, 5)
    assert str(info.value) == f"the event stream from {api.base} ended (daemon stopped?)"
    first, second = (json.loads(line) for line in lines)
    assert first == {"kind": "event", "data": first["data"]}
    assert first["data"]["seq"] == 2
    assert second["data"]["seq"] == 3
    assert second["data"]["detail"] == {"address": "10.0.0.50/24"}


async def test_reload(make_api, capsys):
    api = await make_api()
    code, out, _ = await cli(api, capsys, "reload")
    assert code == 0
    assert out == "configuration reloaded from /etc/netevd/netevd.yaml\n"


async def test_unreachable_daemon_fails_cleanly(capsys):
    port = free_port()
    code, out, err = await cli(None, capsys, "status", "--endpoint", f"http://127.0.0.1:{port}")
    assert code == 1
    assert out == ""
    assert err.startswith(f"netevd: cannot reach netevd at http://127.0.0.1:{port}: ")
    assert "Is the daemon running" in err
    assert "Traceback" not in err


async def test_unix_endpoint(make_api, capsys, tmp_path):
    from netevd.core.config import ApiConfig

    path = tmp_path / "api.sock"
    await make_api(api=ApiConfig(socket=str(path)))
    code, out, _ = await cli(None, capsys, "status", "--endpoint", f"unix:{path}")
    assert code == 0
    assert "interfaces:  3" in out
    code, _, err = await cli(None, capsys, "status", "--endpoint", f"unix:{tmp_path}/none")
    assert code == 1
    assert err.startswith(f"netevd: cannot reach netevd at unix:{tmp_path}/none: ")


async def test_bad_endpoint_and_count_are_usage_errors(capsys):
    code, _, err = await cli(None, capsys, "status", "--endpoint", "ftp://x")
    assert code == 2
    assert err == (
        "netevd: --endpoint 'ftp://x' is not an http://HOST:PORT URL or unix:/PATH to a socket\n"
    )
    code, _, err = await cli(None, capsys, "status", env={"NETEVD_API_ENDPOINT": "nonsense"})
    assert code == 2


def test_clean_makes_control_characters_visible():
    assert clean("eth0") == "eth0"
    assert clean("a\x1b[31mb") == "a\\x1b[31mb"
    assert clean(None) == "-"


async def test_list_scripts_shows_the_dispatchers_trees(make_api, capsys, tmp_path):
    from dataclasses import replace

    from netevd.core.config import CompatConfig, Config, SystemConfig

    scripts, dispatcher = tmp_path / "scripts", tmp_path / "dispatcher.d"
    for directory in (scripts, scripts / "routable.d", dispatcher):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
    for path in (scripts / "routable.d" / "50-own", dispatcher / "10-nm"):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    compat = replace(CompatConfig(), nm_dispatcher=True, nm_dispatcher_dirs=(str(dispatcher),))
    config = Config(system=SystemConfig(script_dirs=(str(scripts),)), compat=compat)
    api = await make_api(config=config)
    status, body = await api.get("/api/v1/scripts")
    assert status == 200
    assert body["data"]["compat_dirs"] == {"nm-dispatcher": [str(dispatcher)]}
    listed = [
        (d["tree"], d["directory"], s["name"], s["tree"], s["verdict"])
        for d in body["data"]["directories"]
        for s in d["scripts"]
    ]
    assert listed == [
        ("netevd", "routable", "50-own", "netevd", "runs"),
        ("nm-dispatcher", "dispatcher", "10-nm", "nm-dispatcher", "runs"),
    ]
    code, out, _ = await cli(api, capsys, "list", "scripts")
    assert code == 0
    assert f"nm-dispatcher scripts: {dispatcher}\n" in out
    assert re.search(r"^nm-dispatcher:dispatcher\.d +10-nm +runs ", out, re.M)
    assert re.search(r"^routable\.d +50-own +runs ", out, re.M)
