"""netevd started as root drops to system.user with CAP_NET_ADMIN only; scripts get nothing."""

import shutil
import tempfile
from pathlib import Path

import pytest

from lab import host_peer, wait_until
from lab.netevd import ScriptDirs

CAP_NET_ADMIN = 1 << 12


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


@pytest.fixture
def open_dir():
    """A directory the unprivileged daemon can read (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="netevd-priv-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


async def test_runs_as_the_configured_user_with_only_net_admin(lab, open_dir, netevd):
    built = await lab(host_peer(["10.231.9.1/24"]))
    scripts = ScriptDirs(open_dir / "scripts")
    scripts.add("no-carrier", extra='grep -E "^(Uid|CapEff|CapPrm|CapAmb)" /proc/$$/status')
    daemon = await netevd(
        built,
        scripts,
        workdir=open_dir,
        routing={"policy_rules": ["eth0"], "to_rules": False},
        system={"user": "nobody", "state_dir": str(open_dir / "state")},
    )
    proc = daemon.proc
    await proc.wait_for_log(r"privileges\.dropped user=nobody")
    daemon = status(proc.pid)
    assert daemon["Uid"].split() == ["65534"] * 4, daemon
    assert int(daemon["CapEff"], 16) == CAP_NET_ADMIN
    assert int(daemon["CapPrm"], 16) == CAP_NET_ADMIN
    assert int(daemon["CapBnd"], 16) == CAP_NET_ADMIN
    assert int(daemon["CapInh"], 16) == 0

    async def rule_installed() -> bool:  # CAP_NET_ADMIN still works after the drop
        rules = await built.ip_json("host", "rule", "show")
        return any(r.get("src") == "10.231.9.1" and r.get("protocol") == "78" for r in rules)

    await wait_until(rule_installed, timeout=15)
    await built.run("peer", "ip", "link", "set", "eth0", "down")
    await scripts.wait_for(STATE="no-carrier")
    await proc.wait_for_log(r"CapAmb")
    seen = {}
    for _, line in proc.lines:
        if "script.output" in line and "line=" in line:
            fields = line.split("line=", 1)[1].strip('"').split("\\x09")
            seen[fields[0].rstrip(":")] = fields[-1]
    assert seen["Uid"] == "65534"
    assert int(seen["CapEff"], 16) == int(seen["CapPrm"], 16) == int(seen["CapAmb"], 16) == 0
    assert (open_dir / "state" / "tables.json").stat().st_uid == 65534


def test_ambient_capabilities_are_cleared_for_scripts(tmp_path):
    """The shipped unit gives netevd CAP_NET_ADMIN as an ambient capability; netevd clears the
    ambient set so its scripts do not inherit it, and keeps its own effective set."""
    import subprocess
    import sys

    code = """
import ctypes, ctypes.util
from netevd.system import privileges as p
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
header = p._CapHeader(p._LINUX_CAPABILITY_VERSION_3, 0)
data = (p._CapData * 2)()
assert libc.capget(ctypes.byref(header), data) == 0
data[0].inheritable |= 1 << p.CAP_NET_ADMIN
assert libc.capset(ctypes.byref(header), data) == 0
assert libc.prctl(p.PR_CAP_AMBIENT, 2, p.CAP_NET_ADMIN, 0, 0) == 0  # PR_CAP_AMBIENT_RAISE
def amb():
    line = [l for l in open("/proc/self/status") if l.startswith("CapAmb")][0]
    return int(line.split()[1], 16)
print("before", amb())
p.clear_ambient()
print("after", amb())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["before", str(CAP_NET_ADMIN), "after", "0"]
