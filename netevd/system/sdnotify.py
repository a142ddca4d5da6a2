"""sd_notify(3) in a few lines: READY=1, STOPPING=1, STATUS=... over $NOTIFY_SOCKET."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("netevd.sdnotify")


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send *message* to systemd when run under it; False (and nothing sent) otherwise."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("sdnotify.failed message=%r error=%r", message, str(exc))
        return False
    return True
