"""Logging in key=value form, fit for journald.

When stderr is the journal (``JOURNAL_STREAM`` names stderr's device and inode, as systemd
documents: the variable is inherited by children whose stderr may go elsewhere), lines carry
no timestamp of their own and start with the kernel-style priority prefix of sd-daemon(3)
(``<3>`` error, ``<4>`` warning, ``<6>`` info, ``<7>`` debug), so that ``journalctl -p
warning`` shows exactly the warnings. Anywhere else they start with a timestamp.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

TRACE = 5
LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
JOURNAL_FORMAT = "level=%(levelname)s %(message)s"
PLAIN_FORMAT = "%(asctime)s level=%(levelname)s %(message)s"


def syslog_priority(levelno: int) -> int:
    """The syslog priority (sd-daemon(3)'s SD_ERR ... SD_DEBUG) of a logging level."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JournalFormatter(logging.Formatter):
    """``<N>`` before every line of a record: journald reads each line as an entry of its own,
    so a traceback's later lines keep the record's priority too."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def stderr_is_journal(env: Mapping[str, str], stream: TextIO | None = None) -> bool:
    """True when *env*'s JOURNAL_STREAM (``DEV:INODE``) is the file *stream* (stderr) is."""
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    try:
        wanted = (int(device), int(inode))
        found = os.fstat((stream or sys.stderr).fileno())
    except (ValueError, OSError):
        return False
    return (found.st_dev, found.st_ino) == wanted


def setup_logging(level: str, env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    logging.addLevelName(TRACE, "TRACE")
    handler = logging.StreamHandler(sys.stderr)
    if stderr_is_journal(env, sys.stderr):
        handler.setFormatter(JournalFormatter(JOURNAL_FORMAT))
    else:
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    set_level(level)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(LEVELS.get(level, logging.INFO))
    # pyroute2 logs every datagram at DEBUG; only `trace` wants to see that.
    logging.getLogger("pyroute2").setLevel(TRACE if level == "trace" else logging.WARNING)
