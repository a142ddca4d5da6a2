"""``netevd reload --pid PID``: SIGHUP to a running netevd, without its API and without a shell.

systemd's ExecReload gives the main process's pid ($MAINPID); minimal systems have no
/bin/kill (procps). The pid must be a netevd process: a typo must not hang up something else.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from netevd.errors import RuntimeFailure, UsageError


def is_netevd(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # `netevd ...` or `python -m netevd ...`
    return any(os.path.basename(arg) == b"netevd" for arg in argv[:3])


def signal_reload(pid: int) -> int:
    if pid <= 1:
        raise UsageError(f"--pid {pid} is not a netevd process id")
    if not is_netevd(pid):
        raise UsageError(f"--pid {pid}: no netevd process has that id")
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        raise RuntimeFailure(f"cannot signal process {pid}: {exc.strerror}") from None
    return 0
