"""The script executor with compat trees: NetworkManager-dispatcher's flat dispatcher.d (with
its arguments, no-wait.d, the pre-up.d/pre-down.d it never runs), networkd-dispatcher's
<state>.d tree, and the event document on stdin (scripts.stdin_json)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

from lab.wait import wait_until
from netevd.core.trees import Tree
from netevd.executors.scripts.discovery import discover
from netevd.executors.scripts.nm_dispatcher import EMPTY, runs_without_waiting

RECORD_ARGS = 'printf "%s|%s\\n" "$1" "$2" >> "$LOG"'


def dispatcher_d(root: Path, name: str) -> Path:
    """A NetworkManager dispatcher.d (0755) under *root*."""
    path = root / name / "dispatcher.d"
    path.mkdir(parents=True, mode=0o755)
    for part in (path.parent, path):
        part.chmod(0o755)
    return path


def script(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n" if body else "")
    path.chmod(mode)
    return path


def subdirectory(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    return path


def nm_settings(tree, *bases: Path, **overrides: object):
    return tree.settings(
        compat_dirs=((Tree.NM_DISPATCHER.value, tuple(str(b) for b in bases)),), **overrides
    )


def nm_run(make_run, action: str, log: Path, **env: str):
    base = make_run(directory=action, env={"LOG": str(log), **env})
    return replace(base, tree=Tree.NM_DISPATCHER.value, args=(base.link_name, action))


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_nm_dispatcher_d_is_flat_etc_shadows_usr_lib_and_subdirectories_are_no_scripts(tree):
    etc = dispatcher_d(tree.root, "etc")
    lib = dispatcher_d(tree.root, "lib")
    script(etc, "20-mine", "true")
    script(lib, "20-mine", "false")
    script(lib, "10-vendor", "true")
    script(etc, "30-empty", "")
    for name in ("no-wait.d", "pre-up.d", "pre-down.d"):
        script(subdirectory(etc, name), "50-x", "true")
    paths, verdicts = discover(nm_settings(tree, etc, lib), "up", tree=Tree.NM_DISPATCHER.value)
    assert paths == [lib / "10-vendor", etc / "20-mine"]
    assert [(Path(v.path), v.runs, v.reason) for v in verdicts] == [
        (lib / "10-vendor", True, ""),
        (etc / "20-mine", True, ""),
        (lib / "20-mine", False, f"shadowed by {etc / '20-mine'}"),
        (etc / "30-empty", False, EMPTY),
    ]


def test_only_a_symlink_into_a_no_wait_d_runs_without_waiting(tree):
    etc = dispatcher_d(tree.root, "etc")
    no_wait = subdirectory(etc, "no-wait.d")
    target = script(no_wait, "50-fast", "true")
    (etc / "50-fast").symlink_to("no-wait.d/50-fast")
    (etc / "60-absolute").symlink_to(target)
    elsewhere = subdirectory(tree.root, "elsewhere")
    (etc / "70-other").symlink_to(script(elsewhere, "70-other", "true"))
    plain = script(etc, "80-plain", "true")
    assert runs_without_waiting(etc / "50-fast")
    assert runs_without_waiting(etc / "60-absolute")
    assert not runs_without_waiting(etc / "70-other")
    assert not runs_without_waiting(plain)


async def test_nm_scripts_get_the_interface_and_the_action_as_arguments(tree, harness, make_run):
    etc = dispatcher_d(tree.root, "etc")
    log = tree.root / "log"
    script(etc, "10-args", RECORD_ARGS)
    executor = harness.executor(nm_settings(tree, etc))
    executor.submit(nm_run(make_run, "up", log))
    executor.submit(nm_run(make_run, "down", log))
    await executor.idle()
    assert lines(log) == ["eth2|up", "eth2|down"]


async def test_a_no_wait_script_does_not_hold_the_links_queue(tree, harness, make_run, gates):
    etc = dispatcher_d(tree.root, "etc")
    no_wait = subdirectory(etc, "no-wait.d")
    log = tree.root / "log"
    gate = gates.path("slow")
    script(no_wait, "10-slow", f'read x < "{gate}"; echo "slow $2" >> "$LOG"')
    (etc / "10-slow").symlink_to("no-wait.d/10-slow")
    script(etc, "20-waits", 'echo "waits $2" >> "$LOG"')
    executor = harness.executor(nm_settings(tree, etc))
    executor.submit(nm_run(make_run, "up", log))
    executor.submit(nm_run(make_run, "dhcp4-change", log, NETEVD_SEQ="2"))

    def both_ran() -> bool:
        return lines(log) == ["waits up", "waits dhcp4-change"]

    await wait_until(both_ran, 10, message="the waiting scripts of both runs")
    assert len(executor._detached) == 2  # the no-wait ones still blocked on their gate
    gates.release("slow")
    gates.release("slow")
    await executor.idle()  # idle waits for the no-wait scripts too
    assert sorted(lines(log)[2:]) == ["slow dhcp4-change", "slow up"]
    assert len(harness.finished) == 4


async def test_pre_up_and_pre_down_scripts_never_run_and_are_warned_about_once(
    tree, harness, make_run, caplog
):
    caplog.set_level(logging.WARNING, logger="netevd.scripts")
    etc = dispatcher_d(tree.root, "etc")
    log = tree.root / "log"
    script(subdirectory(etc, "pre-up.d"), "10-pre", 'echo pre >> "$LOG"')
    script(subdirectory(etc, "pre-down.d"), "10-pre", 'echo pre >> "$LOG"')
    script(etc, "20-up", 'echo "$2" >> "$LOG"')
    executor = harness.executor(nm_settings(tree, etc))
    for action in ("up", "down", "up"):
        executor.submit(nm_run(make_run, action, log))
        await executor.idle()
    assert lines(log) == ["up", "down", "up"]
    warned = [
        r.getMessage() for r in caplog.records if "compat.nm_dispatcher.skipped" in r.getMessage()
    ]
    assert len(warned) == 2  # one for pre-up.d, one for pre-down.d, not one per run
    assert all("cannot make it wait" in message for message in warned)


async def test_a_compat_tree_is_judged_like_netevds_own(tree, harness, make_run, caplog):
    caplog.set_level(logging.WARNING, logger="netevd.scripts")
    etc = dispatcher_d(tree.root, "etc")
    log = tree.root / "log"
    script(etc, "10-writable", 'echo ran >> "$LOG"', mode=0o775)
    etc.chmod(0o777)  # and the directory itself is writable by anyone
    executor = harness.executor(nm_settings(tree, etc))
    executor.submit(nm_run(make_run, "up", log))
    await executor.idle()
    assert lines(log) == []
    assert any("world-writable" in r.getMessage() for r in caplog.records)


async def test_networkd_dispatchers_tree_is_state_d_under_its_own_bases(tree, harness, make_run):
    log = tree.root / "log"
    nd = tree.root / "networkd-dispatcher"
    nd.mkdir(mode=0o755)
    nd.chmod(0o755)
    script(subdirectory(nd, "routable.d"), "50-ifup-hooks", 'echo "$IFACE $STATE" >> "$LOG"')
    tree.script("routable", "50-netevd", 'echo "netevd $LINK" >> "$LOG"')
    settings = tree.settings(compat_dirs=((Tree.NETWORKD_DISPATCHER.value, (str(nd),)),))
    executor = harness.executor(settings)
    own = make_run(env={"LOG": str(log)})
    compat = replace(
        make_run(env={"LOG": str(log), "IFACE": "eth2", "STATE": "routable"}),
        tree=Tree.NETWORKD_DISPATCHER.value,
    )
    executor.submit(own)
    executor.submit(compat)
    await executor.idle()
    assert lines(log) == ["netevd eth2", "eth2 routable"]


async def test_stdin_json_gives_the_document_on_stdin_and_off_stdin_is_dev_null(
    tree, harness, make_run
):
    out = tree.root / "stdin"
    tree.script("routable", "10-read", 'cat > "$OUT"; readlink /proc/$$/fd/0 >> "$OUT.fd"')
    document = json.dumps({"schema": "netevd.event.v1", "seq": 1, "x": "y" * 70000})
    env = {"OUT": str(out), "NETEVD_JSON": document}
    executor = harness.executor(tree.settings(stdin_json=True))
    executor.submit(make_run(env=env))
    await executor.idle()
    assert out.read_text() == document  # larger than a pipe's buffer: a memfd, read whole
    assert lines(Path(f"{out}.fd"))[0].startswith("/memfd:netevd-event")
    os.unlink(f"{out}.fd")

    off = harness.executor(tree.settings())
    off.submit(make_run(env=env))
    await off.idle()
    assert out.read_text() == ""
    assert lines(Path(f"{out}.fd")) == ["/dev/null"]


def test_the_listing_shows_the_dispatchers_trees_that_are_on(tree, caplog):
    from netevd.executors.scripts import scan_all

    caplog.set_level(logging.DEBUG, logger="netevd.scripts")
    nd = tree.root / "networkd-dispatcher"
    nd.mkdir(mode=0o755)
    nd.chmod(0o755)
    script(subdirectory(nd, "routable.d"), "50-ifup-hooks", "true")
    script(subdirectory(nd, "no-carrier.d"), "50-alert", "true", mode=0o775)
    script(subdirectory(nd, "not-a-state.d"), "50-never", "true")  # no state of networkd's
    etc = dispatcher_d(tree.root, "etc")
    script(etc, "10-up", "true")
    subdirectory(etc, "pre-up.d")  # never a script
    tree.script("routable", "50-netevd", "true")
    trees = ((Tree.NETWORKD_DISPATCHER.value, (str(nd),)), (Tree.NM_DISPATCHER.value, (str(etc),)))

    verdicts = scan_all(tree.settings(compat_dirs=trees), ["routable"])

    assert [(v.tree, v.directory, v.name, v.runs, v.reason) for v in verdicts] == [
        ("netevd", "routable", "50-netevd", True, ""),
        ("networkd-dispatcher", "no-carrier", "50-alert", False, "group-writable"),
        ("networkd-dispatcher", "routable", "50-ifup-hooks", True, ""),
        ("nm-dispatcher", "dispatcher", "10-up", True, ""),
    ]
    assert not caplog.records
    off = scan_all(tree.settings(), ["routable"])  # trees off: netevd's own only
    assert [(v.tree, v.name) for v in off] == [("netevd", "50-netevd")]
