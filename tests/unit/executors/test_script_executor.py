"""ScriptExecutor: ordering, parallelism, supersede, pending runs, reporting and shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from pathlib import Path

from lab.wait import wait_until
from netevd.core.events import RunDropped
from netevd.executors.scripts.runner import FIXED_PATH

# Appends "start $LINK $DIR" and "end ..." to $LOG; blocks on $GATE (a FIFO) when one is set.
GATED = """\
echo "start $LINK $DIR" >> "$LOG"
if [ -n "$GATE" ]; then read x < "$GATE"; fi
echo "end $LINK $DIR" >> "$LOG"
"""


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_scripts_run_in_name_order_and_failures_do_not_stop_the_run(
    tree, harness, make_run, caplog
):
    caplog.set_level(logging.INFO, logger="netevd.scripts")
    log = tree.root / "log"
    tree.script("routable", "30-ok", f'echo 30 >> "{log}"')
    tree.script("routable", "10-fail", f'echo 10 >> "{log}"; echo oops; exit 3')
    nosheb = tree.script("routable", "20-noshebang", "")
    nosheb.write_text("echo never\n")
    executor = harness.executor(tree.settings())
    executor.submit(make_run(seq=7))
    await executor.idle()
    assert lines(log) == ["10", "30"]
    outcomes = [(Path(f.script).name, f.exit_code, f.error, f.output) for f in harness.finished]
    assert outcomes == [
        ("10-fail", 3, "", "oops\n"),
        ("20-noshebang", None, "exec format error: missing #! line?", ""),
        ("30-ok", 0, "", ""),
    ]
    assert all(
        (f.seq, f.directory, f.link_name) == (7, "routable", "eth2") for f in harness.finished
    )
    stats = executor.stats
    assert (stats.runs, stats.scripts_started, stats.failures) == (1, 3, 2)
    [failed] = [r for r in caplog.records if r.getMessage().startswith("script.failed")]
    assert failed.levelno == logging.WARNING
    assert "exit=3" in failed.getMessage()


async def test_environment_is_exactly_path_lang_tz_and_the_action(tree, harness, make_run):
    out = tree.root / "env"
    tree.script("routable", "10-env", "tr '\\0' '\\n' < /proc/$$/environ > \"$OUT\"")
    base = {
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "TZ": "Europe/Berlin",
        "PATH": "/evil",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "SECRET": "s3cret",
    }
    executor = harness.executor(tree.settings(), base_env=base)
    executor.submit(make_run(link=3, seq=9, env={"OUT": str(out), "STATE": "routable"}))
    await executor.idle()
    assert set(lines(out)) == {
        f"PATH={FIXED_PATH}",
        "LANG=C.UTF-8",
        "TZ=Europe/Berlin",
        "LINK=eth3",
        "LINKINDEX=3",
        "NETEVD_SEQ=9",
        f"OUT={out}",
        "STATE=routable",
        f"NETEVD_SCRIPT={tree.root / 'base0' / 'routable.d' / '10-env'}",
    }


async def test_timeout_is_reported_and_counted(tree, harness, make_run, reap_pids, gone):
    pids = tree.root / "pids"
    tree.script("routable", "10-hang", f'sleep 60 & echo $! > "{pids}"; echo $$ >> "{pids}"; wait')
    executor = harness.executor(tree.settings(timeout=0.3))
    executor.submit(make_run())
    await executor.idle()
    [finished] = harness.finished
    assert (finished.exit_code, finished.timed_out) == (None, True)
    assert (executor.stats.timeouts, executor.stats.failures) == (1, 1)
    found = [int(pid) for pid in lines(pids)]
    reap_pids.extend(found)
    await wait_until(lambda: all(gone(pid) for pid in found), timeout=5, message="group killed")


async def test_output_lines_logged_up_to_the_cap_and_report_tail_bounded(
    tree, harness, make_run, caplog
):
    caplog.set_level(logging.INFO, logger="netevd.scripts")
    tree.script(
        "routable", "10-chatty", 'i=0; while [ $i -lt 250 ]; do echo "line $i"; i=$((i+1)); done'
    )
    tree.script("routable", "20-big", "head -c 100000 /dev/zero | tr '\\0' z")
    executor = harness.executor(tree.settings(output_limit=8192))
    executor.submit(make_run(name="wan0"))
    await executor.idle()
    messages = [r.getMessage() for r in caplog.records if "10-chatty" in r.getMessage()]
    output = [m for m in messages if m.startswith("script.output ")]
    assert len(output) == 200
    assert output[0].startswith("script.output link=wan0 script=")
    assert output[0].endswith('line="line 0"')
    assert [m for m in messages if m.startswith("script.output.suppressed")] == [
        f"script.output.suppressed link=wan0 script={tree.bases[0]}/routable.d/10-chatty lines=50"
    ]
    big = harness.finished[1]
    assert big.output == "z" * 4096


async def test_per_link_order_while_other_links_run_in_parallel(tree, harness, make_run, gates):
    log = tree.root / "log"
    for directory in ("a", "b", "c"):
        tree.script(directory, "10-s", GATED)
    executor = harness.executor(tree.settings())
    env = {"LOG": str(log)}
    gate = str(gates.path("l1"))
    executor.submit(make_run("a", link=1, seq=1, env={**env, "DIR": "a", "GATE": gate}))
    executor.submit(make_run("b", link=1, seq=2, env={**env, "DIR": "b"}))
    executor.submit(make_run("c", link=1, seq=3, env={**env, "DIR": "c"}))
    executor.submit(make_run("a", link=2, seq=4, env={**env, "DIR": "a"}))
    # Link 2 completes while link 1 is stuck in its first run: links are independent...
    await wait_until(lambda: any(f.link_index == 2 for f in harness.finished), timeout=5)
    # ...and link 1's later runs wait for its first.
    assert [line for line in lines(log) if "eth1" in line] == ["start eth1 a"]
    gates.release("l1")
    await asyncio.wait_for(executor.idle(), 5)
    assert [line for line in lines(log) if "eth1" in line] == [
        "start eth1 a",
        "end eth1 a",
        "start eth1 b",
        "end eth1 b",
        "start eth1 c",
        "end eth1 c",
    ]
    assert [f.seq for f in harness.finished if f.link_index == 1] == [1, 2, 3]


async def test_parallel_links_are_capped(tree, harness, make_run, gates):
    log = tree.root / "log"
    tree.script("routable", "10-s", GATED)
    executor = harness.executor(tree.settings(max_parallel=2))
    for link in (1, 2, 3):
        env = {"LOG": str(log), "DIR": "r", "GATE": str(gates.path(f"l{link}"))}
        executor.submit(make_run(link=link, seq=link, env=env))
    await wait_until(lambda: {"start eth1 r", "start eth2 r"} <= set(lines(log)), timeout=5)
    gates.release("l1")
    await wait_until(lambda: "start eth3 r" in lines(log), timeout=5)
    assert lines(log)[2:4] == ["end eth1 r", "start eth3 r"]  # a slot had to free up first
    gates.release("l2")
    gates.release("l3")
    await asyncio.wait_for(executor.idle(), 5)
    running = peak = 0
    for line in lines(log):
        running += 1 if line.startswith("start") else -1
        peak = max(peak, running)
    assert peak == 2


async def test_newer_state_supersedes_a_queued_run(tree, harness, make_run, gates):
    log = tree.root / "log"
    for directory in ("routable", "degraded"):
        tree.script(directory, "10-s", GATED)
    executor = harness.executor(tree.settings(max_parallel=1))
    env = {"LOG": str(log), "DIR": "x"}
    gate = str(gates.path("g"))
    executor.submit(make_run("routable", link=1, seq=1, env={**env, "GATE": gate}))
    await wait_until(lambda: lines(log) == ["start eth1 x"], timeout=5)
    executor.submit(make_run("degraded", link=1, seq=2, env=env))
    executor.submit(make_run("degraded", link=2, seq=3, env=env))  # waits for the cap
    executor.submit(make_run("degraded", link=1, seq=4, env=env))
    executor.submit(make_run("degraded", link=2, seq=5, env=env))
    executor.submit(make_run("routable", link=1, seq=6, env=env))  # seq 1 started: no drop
    assert harness.dropped == [
        RunDropped(seq=2, directory="degraded", link_index=1, link_name="eth1", superseded_by=4),
        RunDropped(seq=3, directory="degraded", link_index=2, link_name="eth2", superseded_by=5),
    ]
    gates.release("g")
    await asyncio.wait_for(executor.idle(), 5)
    assert [f.seq for f in harness.finished if f.link_index == 1] == [1, 4, 6]
    assert [f.seq for f in harness.finished if f.link_index == 2] == [5]
    assert executor.stats.superseded == 2


async def test_a_burst_of_pending_runs_runs_once_with_the_last_env(tree, harness, make_run):
    log = tree.root / "log"
    tree.script("routes", "10-s", 'echo "$LINK $N" >> "$LOG"')
    executor = harness.executor(tree.settings(quiet_window=0.05))
    for i in range(1000):
        for link in (1, 2):
            env = {"LOG": str(log), "N": str(i)}
            executor.submit(make_run("routes", link=link, seq=2 * i + link, env=env, pending=True))
    await asyncio.wait_for(executor.idle(), 5)
    assert sorted(lines(log)) == ["eth1 999", "eth2 999"]
    assert sorted(f.seq for f in harness.finished) == [1999, 2000]
    assert harness.dropped == []
    stats = executor.stats
    assert (stats.runs, stats.pending_replaced) == (2, 2 * 999)


async def test_refuses_directory_names_outside_the_enum(tree, harness, make_run, caplog):
    tree.script("routable", "10-s", "exit 0")
    executor = harness.executor(tree.settings())
    executor.submit(make_run("../routable"))
    executor.submit(make_run("routable/../routable"))
    await executor.idle()
    assert harness.reports == []
    assert executor.stats.runs == 0
    refused = [r for r in caplog.records if r.getMessage().startswith("script.directory.refused")]
    assert [r.levelno for r in refused] == [logging.ERROR, logging.ERROR]


async def test_a_background_child_ends_with_its_script_and_does_not_hold_up_the_next_run(
    tree, harness, make_run, reap_pids, gone
):
    pid_file = tree.root / "pid"
    log = tree.root / "log"
    tree.script("a", "10-daemonize", f'sleep 30 & echo $! > "{pid_file}"')
    tree.script("b", "10-next", f'echo next >> "{log}"')
    executor = harness.executor(tree.settings())
    start = time.monotonic()
    executor.submit(make_run("a", link=1, seq=1))
    executor.submit(make_run("b", link=1, seq=2))
    await asyncio.wait_for(executor.idle(), 5)
    assert time.monotonic() - start < 2.5
    assert lines(log) == ["next"]
    pid = int(pid_file.read_text())
    reap_pids.append(pid)
    # SIGKILL went to the group when the script exited; its delivery is asynchronous.
    assert await wait_until(lambda: gone(pid), 2, message="background child killed")


async def test_a_failing_report_callable_does_not_stop_the_scripts(tree, make_run, caplog):
    from netevd.executors.scripts import ScriptExecutor

    tree.script("routable", "10-a", "exit 0")
    tree.script("routable", "20-b", "exit 0")
    seen: list[object] = []

    def report(event: object) -> None:
        seen.append(event)
        raise RuntimeError("queue closed")

    executor = ScriptExecutor(tree.settings(), report)
    executor.submit(make_run())
    await executor.idle()
    await executor.shutdown()
    assert len(seen) == 2


async def test_shutdown_drops_waiting_runs_and_kills_after_the_grace(
    tree, harness, make_run, reap_pids, gone
):
    pids = tree.root / "pids"
    marker = tree.root / "marker"
    tree.script("routable", "10-hang", f'sleep 60 & echo $! >> "{pids}"; echo $$ >> "{pids}"; wait')
    tree.script("degraded", "10-mark", f'echo ran >> "{marker}"')
    executor = harness.executor(tree.settings(max_parallel=1, shutdown_grace=0.3))
    executor.submit(make_run("routable", link=1, seq=1))
    executor.submit(make_run("degraded", link=2, seq=2))  # waits for the cap
    executor.submit(make_run("degraded", link=3, seq=3, pending=True))  # in its quiet window
    await wait_until(lambda: len(lines(pids)) == 2, timeout=5)
    found = [int(pid) for pid in lines(pids)]
    reap_pids.extend(found)
    start = time.monotonic()
    await asyncio.wait_for(executor.shutdown(), 5)
    assert 0.3 <= time.monotonic() - start < 3
    await wait_until(lambda: all(gone(pid) for pid in found), timeout=5, message="group killed")
    assert not marker.exists()
    [finished] = harness.finished
    assert (finished.seq, finished.exit_code, finished.error) == (1, None, "killed at shutdown")
    executor.submit(make_run("degraded", link=2, seq=4))  # after shutdown: ignored
    await asyncio.wait_for(executor.idle(), 1)
    assert not marker.exists()


async def test_shutdown_lets_the_running_script_finish_within_the_grace(
    tree, harness, make_run, gates
):
    log = tree.root / "log"
    tree.script("routable", "10-gated", GATED)
    tree.script("routable", "20-next", f'echo next >> "{log}"')
    executor = harness.executor(tree.settings(shutdown_grace=5))
    env = {"LOG": str(log), "DIR": "r", "GATE": str(gates.path("g"))}
    executor.submit(make_run(link=1, seq=1, env=env))
    await wait_until(lambda: lines(log) == ["start eth1 r"], timeout=5)
    stopping = asyncio.create_task(executor.shutdown())
    gates.release("g")
    await asyncio.wait_for(stopping, 5)
    assert lines(log) == ["start eth1 r", "end eth1 r"]  # finished; the next one never started
    assert [(Path(f.script).name, f.exit_code) for f in harness.finished] == [("10-gated", 0)]


async def test_idle_on_a_fresh_executor_returns_at_once(tree, harness):
    executor = harness.executor(tree.settings())
    await asyncio.wait_for(executor.idle(), 1)
    assert executor.stats.runs == 0


async def test_large_values_go_by_a_private_file_removed_afterwards(tmp_path):
    from netevd.core.actions import RunScripts
    from netevd.executors.scripts import ScriptExecutor, ScriptSettings

    base = tmp_path / "etc"
    (base / "configured.d").mkdir(parents=True)
    base.chmod(0o755)
    (base / "configured.d").chmod(0o755)
    out = tmp_path / "seen"
    script = base / "configured.d" / "10-read"
    script.write_text(
        f'#!/bin/sh\necho "$NETEVD_JSON_FILE" > {out}.path\ncat "$NETEVD_JSON_FILE" > {out}\n'
    )
    script.chmod(0o755)
    events = []
    settings = ScriptSettings(
        script_dirs=(str(base),), allowed_uids=frozenset({os.geteuid()}), runtime_dir=str(tmp_path)
    )
    executor = ScriptExecutor(settings, events.append, base_env={})
    content = '{"big": "' + "x" * 200_000 + '"}'
    executor.submit(
        RunScripts(
            "configured", 3, "eth0", (("LINK", "eth0"),), 1, files=(("NETEVD_JSON_FILE", content),)
        )
    )
    await executor.idle()
    assert out.read_text() == content
    path = (tmp_path / "seen.path").read_text().strip()
    assert path.startswith(str(tmp_path))
    assert not os.path.exists(path)
    assert [e.exit_code for e in events] == [0]


async def test_a_run_not_built_runs_nothing_even_if_a_script_came_since(tree, harness, make_run):
    out = tree.root / "ran"
    tree.script("routable", "10-late", f'touch "{out}"')
    executor = harness.executor(tree.settings())
    executor.submit(dataclasses.replace(make_run(), env=(), built=False))
    executor.submit(make_run(link=3))  # a built one after it: the executor went on
    await executor.idle()
    assert [f.link_index for f in harness.finished] == [3]
    assert executor.stats.runs == 2
