"""Chaos: the script directories' file system remounted read-only, and a directory (then the
whole tree) deleted and recreated while netevd runs. The next event runs what is there then;
nothing crashes."""

import shutil

from chaos_support import health, remount, tmpfs

from lab import host_peer
from lab.netevd import ScriptDirs

TOPOLOGY = host_peer(["10.231.86.1/24"], ["10.231.86.2/24"])


async def flap(built, state: str) -> None:
    await built.set_carrier("peer", "eth0", state, seen_in="host", seen_link="eth0")


async def test_script_dirs_read_only_deleted_and_recreated(lab, netevd, tmp_path):
    built = await lab(TOPOLOGY)
    with tmpfs(tmp_path / "scripts", "4m") as root:
        scripts = ScriptDirs(root)  # runs are recorded beside it, off the tmpfs
        scripts.add("no-carrier", "10-first")
        scripts.add("carrier", "10-first")
        daemon = await netevd(built, scripts, api=True)
        await flap(built, "down")
        await scripts.wait_for(
            STATE="no-carrier", NETEVD_SCRIPT=str(root / "no-carrier.d/10-first")
        )
        # read-only: the scripts are still there and still run
        remount(root, "ro")
        await flap(built, "up")
        await scripts.wait_for(STATE="carrier", NETEVD_SCRIPT=str(root / "carrier.d/10-first"))
        remount(root, "rw")
        # one directory deleted: its event runs nothing, and says so at most as a debug line
        shutil.rmtree(root / "no-carrier.d")
        await flap(built, "down")
        await daemon.proc.wait_for_log(r"link .*eth0.*no-carrier|no-carrier.*eth0")
        # recreated with another script: the next event runs the new one
        scripts.add("no-carrier", "20-second")
        await flap(built, "up")
        await flap(built, "down")
        await scripts.wait_for(
            STATE="no-carrier", NETEVD_SCRIPT=str(root / "no-carrier.d/20-second")
        )
        # the whole tree gone and back
        for child in root.iterdir():
            shutil.rmtree(child)
        await flap(built, "up")
        scripts.add("carrier", "30-third")
        await flap(built, "down")
        await flap(built, "up")
        await scripts.wait_for(STATE="carrier", NETEVD_SCRIPT=str(root / "carrier.d/30-third"))
        assert len(scripts.matching(NETEVD_SCRIPT=str(root / "no-carrier.d/10-first"))) == 1
        assert (await health(daemon.http))[0] == 200
        assert daemon.proc.running
        assert "Traceback" not in daemon.proc.output()
        await daemon.proc.stop()
