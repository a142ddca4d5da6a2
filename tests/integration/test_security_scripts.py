"""Issue 10, attack 2: which scripts run as root is decided on the file that is executed.

On 253553e only ``<state>.d`` was checked, with stat (following symlinks), once per run; each
script was then executed by path. A base directory writable by nobody let it point carrier.d at
any root-owned directory; a symlink hop in a nobody-owned directory could be re-pointed at will;
and a script changed while the run was under way still ran.
"""

import os
from pathlib import Path

from lab import ROOT, host_peer
from lab.netevd import RECORDER, ScriptDirs
from netevd.executors.scripts.trust import open_script

NOBODY = 65534


def _recorder(path: Path, out: Path) -> Path:
    path.write_text(RECORDER.format(out=out, extra=""))
    path.chmod(0o755)
    return path


async def _carrier_event(built) -> None:
    await built.cycle_carrier("peer", "eth0", seen_in="host", seen_link="eth0")


async def _verdicts(api) -> dict[str, dict]:
    data = await api.data("/api/v1/scripts")
    return {s["path"]: s for d in data["directories"] for s in d["scripts"]}


async def test_a_base_directory_others_can_write_runs_nothing(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.43.1/24"], ["10.231.43.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    trusted = tmp_path / "sbin"  # a root-owned directory of programs (stands in for /usr/sbin)
    trusted.mkdir(mode=0o755)
    _recorder(trusted / "reboot", scripts.out)
    base = tmp_path / "base"
    base.mkdir(mode=0o755)
    os.chown(base, NOBODY, NOBODY)  # what nobody owns, nobody can re-point
    (base / "carrier.d").symlink_to(trusted)
    os.lchown(base / "carrier.d", NOBODY, NOBODY)
    witness = scripts.add("carrier", "99-witness")  # a trusted base beside it: the event ran
    dirs = [str(base), str(scripts.root)]
    daemon = await netevd(built, scripts, api=True, system={"script_dirs": dirs})
    verdicts = await _verdicts(daemon.http)
    verdict = verdicts[str(base / "carrier.d" / "reboot")]
    assert verdict["runs"] is False
    assert verdict["reason"] == f"directory {base} not owned by root"
    await _carrier_event(built)
    await scripts.wait_for(1, NETEVD_SCRIPT=str(witness), NETEVD_REPLAY="0")
    assert {r.env["NETEVD_SCRIPT"] for r in scripts.runs()} == {str(witness)}


async def test_a_symlink_hop_in_a_directory_others_own_is_refused(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.44.1/24"], ["10.231.44.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    sbin = tmp_path / "sbin"
    sbin.mkdir(mode=0o755)
    _recorder(sbin / "reboot", scripts.out)
    links = tmp_path / "links"
    links.mkdir(mode=0o755)
    os.chown(links, NOBODY, NOBODY)
    (links / "mid").symlink_to(sbin / "reboot")  # nobody could re-point this at anything
    (scripts.root / "carrier.d").mkdir(mode=0o755)
    entry = scripts.root / "carrier.d" / "50-mid"
    entry.symlink_to(links / "mid")
    daemon = await netevd(built, scripts, api=True)
    verdicts = await _verdicts(daemon.http)
    assert verdicts[str(entry)]["runs"] is False
    assert verdicts[str(entry)]["reason"] == f"directory {links} not owned by root"


async def test_the_verdict_is_taken_again_right_before_each_exec(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.45.1/24"], ["10.231.45.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    started, release = tmp_path / "started", tmp_path / "release"
    gate = (
        "#!/bin/sh\n"
        f'[ "$NETEVD_REPLAY" = 1 ] && exit 0\n'
        f': > "{started}"\n'
        f'i=0; while [ ! -e "{release}" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n'
    )
    scripts.add_raw("carrier", "10-gate", gate)
    second = scripts.add("carrier", "20-record")
    daemon = await netevd(built, scripts, api=True)
    scripts.clear()
    await _carrier_event(built)
    await daemon.proc.wait_until(started.exists, 15)
    os.chown(second, NOBODY, NOBODY)  # changed while the run is under way
    release.touch()
    await daemon.proc.wait_for_log(rf"script\.skipped path={second} .*not owned by root", 15)
    verdicts = await _verdicts(daemon.http)
    assert verdicts[str(second)]["runs"] is False
    assert [r for r in scripts.runs() if r.env.get("NETEVD_REPLAY") == "0"] == []


async def test_a_script_runs_by_its_checked_path_and_knows_its_name(lab, netevd, tmp_path):
    """$0 is the script's path: it names itself with basename "$0" and sources a file beside
    it through dirname "$0", as scripts written for any dispatcher do."""
    built = await lab(host_peer(["10.231.46.1/24"], ["10.231.46.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    named = (
        "#!/bin/sh\n"
        'export ZERO="$0" SELF="$(basename "$0")"\n'
        '. "$(dirname "$0")/lib.sh"\n'
        f'f="{scripts.out}/1-$$"; env -0 > "$f.tmp" && mv "$f.tmp" "$f.env"\n'
    )
    path = scripts.add_raw("carrier", "50-named", named)
    scripts.add_raw("carrier", "lib.sh", "export FROM_LIBRARY=beside\n", mode=0o644)
    await netevd(built, scripts)
    (run,) = await scripts.wait_for(1, STATE="carrier", LINK="eth0")
    assert run.env["NETEVD_SCRIPT"] == str(path)
    assert (run.env["ZERO"], run.env["SELF"], run.env["FROM_LIBRARY"]) == (
        str(path),
        "50-named",
        "beside",
    )


async def test_a_world_writable_directory_on_a_read_only_mount_is_trusted(lab, netevd, tmp_path):
    """A Kubernetes configMap volume's directory is 0777, mounted read-only: nobody can write
    it, so its scripts run; the same directory writable runs nothing."""
    built = await lab(host_peer(["10.231.45.1/24"], ["10.231.45.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    source = tmp_path / "volume"
    (source / "carrier.d").mkdir(parents=True, mode=0o755)
    script = _recorder(source / "carrier.d" / "50-record", scripts.out)
    source.chmod(0o777)
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    await built.run(ROOT, "mount", "--bind", str(source), str(mounted))
    try:
        await built.run(ROOT, "mount", "-o", "remount,bind,ro", str(mounted))
        writable = open_script(str(source / "carrier.d" / "50-record"), frozenset({0}))
        assert writable.reason == f"directory {source} is world-writable"
        daemon = await netevd(built, scripts, api=True, system={"script_dirs": [str(mounted)]})
        verdicts = await _verdicts(daemon.http)
        assert verdicts[str(mounted / "carrier.d" / "50-record")]["runs"] is True
        await _carrier_event(built)
        await scripts.wait_for(1, NETEVD_REPLAY="0")
        assert {r.env["NETEVD_SCRIPT"] for r in scripts.runs()} == {
            str(mounted / "carrier.d" / "50-record")
        }
        assert script.exists()
    finally:
        await built.run(ROOT, "umount", str(mounted))
