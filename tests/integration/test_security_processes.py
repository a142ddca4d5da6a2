"""Issue 10, attack 5: nothing a script starts outlives it, or the daemon.

On 253553e a script's background child (the script exiting 0) and a ``setsid`` child of a
script that timed out both outlived the daemon.
"""

from pathlib import Path

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


async def test_background_and_setsid_children_end_with_their_script(lab, netevd, tmp_path):
    built = await lab(host_peer(["10.231.53.1/24"], ["10.231.53.2/24"]))
    scripts = ScriptDirs(tmp_path / "scripts")
    bg, escaped, at_stop = tmp_path / "bg", tmp_path / "escaped", tmp_path / "at-stop"
    scripts.add_raw("carrier", "10-background", f'#!/bin/sh\nsleep 300 &\necho $! > "{bg}"\n')
    scripts.add_raw(
        "carrier", "20-timeout", f'#!/bin/sh\nsetsid sleep 300 &\necho $! > "{escaped}"\nsleep 60\n'
    )
    scripts.add_raw(
        "no-carrier", "10-long", f'#!/bin/sh\nsetsid sleep 300 &\necho $! > "{at_stop}"\nsleep 60\n'
    )
    daemon = await netevd(built, scripts, scripts={"timeout": 1, "shutdown_grace": 0.5})
    pids = [int(p.read_text()) for p in await _written(bg, escaped)]
    await wait_until(lambda: not any(alive(p) for p in pids), 10, message=f"{pids} ended")
    await daemon.proc.wait_for_log(r"script\.orphans\.killed", 10)

    await built.run("peer", "ip", "link", "set", "eth0", "down")
    (path,) = await _written(at_stop)
    last = int(path.read_text())
    assert alive(last)
    await daemon.proc.stop()
    assert not alive(last), "a setsid child of a running script does not survive the stop"


async def _written(*paths: Path) -> list[Path]:
    async def written() -> list[Path] | None:
        return list(paths) if all(p.exists() and p.read_text().strip() for p in paths) else None

    return await wait_until(written, 15, message=f"{paths} written")
